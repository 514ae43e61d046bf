"""Validation during training: accuracy of a classifier, or the EER of held-out speakers for
a speaker embedding (with the open-set threshold the node ships with)."""
from __future__ import annotations

import numpy as np

from ..data.dataset import AudioDataset
from ..runtime.embeddings import speaker_vectors
from ..scoring.evaluate import predict_dataset
from ..scoring.verification import (enroll, equal_error_rate, identification_accuracy,
                                    open_set_threshold, trials)
from .config import TrainConfig


def validate_speakers(model, val_set: AudioDataset, cfg: TrainConfig) -> dict:
    """EER of the validation speakers with 3 enrollment clips each, test clips cut to the
    node's window, and the open-set threshold the node ships with.

    With `cfg.tnorm` an AAM model's scores are T-normalised by its training speakers (the
    head's class centres: verification.tnorm), and `tnorm_scale` in the result tells the nodes
    to do the same."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    longest = int(cfg.val_seconds * model.sample_rate)
    waves, speakers = [], []
    for index in range(len(val_set)):
        wave = val_set.audio(index)
        if wave is not None:
            start = max(0, (len(wave) - longest) // 2)
            waves.append(wave[start:start + longest])
            speakers.append(val_set.labels[val_set.targets[index]])
    scale = model.cfg.scale if cfg.tnorm and model.cfg.head == "aam" else None
    embeddings, cohort = speaker_vectors(lambda x: model.embed_and_logits(x.to(device)), waves,
                                         scale)
    model.train(was_training)
    rng = np.random.default_rng(cfg.seed)
    enrollment = enroll(embeddings, speakers, 3, rng, cohort)
    eer, eer_threshold = equal_error_rate(*trials(enrollment))
    # The node compares a voice with everyone enrolled; its threshold is chosen for a
    # household: two thirds of the validation speakers known, the others strangers.
    gallery = max(1, 2 * len(enrollment.names) // 3)
    return {"val_eer": eer, "val_eer_threshold": eer_threshold,
            "similarity_threshold": open_set_threshold(embeddings, speakers, gallery, 3, rng,
                                                       cohort=cohort),
            "similarity_gallery": gallery,
            "val_identification": identification_accuracy(enrollment),
            **({"tnorm_scale": float(scale)} if scale else {})}


def validate(model, val_set: AudioDataset, cfg: TrainConfig) -> tuple[float, dict, dict]:
    """(the score epochs are chosen by, higher is better: accuracy, or 1 - EER; the figures
    the log gets; the figures the checkpoint keeps). A speaker run reports its EER as EER."""
    if cfg.val_metric == "eer":
        figures = validate_speakers(model, val_set, cfg)
        logged = {k: v for k, v in figures.items() if k.startswith("val_")}
        return 1.0 - figures["val_eer"], logged, figures
    probs, targets = predict_dataset(model, val_set)
    accuracy = float(np.mean(probs.argmax(1) == targets))
    loss = float(-np.mean(np.log(probs[np.arange(len(probs)), targets] + 1e-12)))
    return accuracy, {"val_loss": loss, "val_acc": accuracy}, {"val_accuracy": accuracy}
