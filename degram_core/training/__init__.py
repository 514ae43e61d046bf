"""Training: the recipe (config.py: TrainConfig, YAML recipes that extend a `base:`), which
clips train and validate (splits.py), the batches (batches.py), the loop (loop.py) and its
resume state (state.py), validation (validation.py), logs and data-parallel ranks."""
from .config import TrainConfig
from .loop import train
from .splits import extra_items, split_items

__all__ = ["TrainConfig", "train", "extra_items", "split_items"]
