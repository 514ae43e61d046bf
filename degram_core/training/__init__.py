"""Training: the recipe (TrainConfig, YAML with `base:`), the splits, the loop and its
resumable state, validation during training."""
