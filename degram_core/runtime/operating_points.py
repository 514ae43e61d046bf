"""Operating points: the thresholds a model is used at, in one place.

Each is chosen on validation data when the model is made and stored in its checkpoint's meta
(`degram calibrate`; `degram info` shows them). A node parameter or command option that is
negative (or None) stands for the model's own; a model made without one gets the default
here. Every node, command and benchmark resolves them with `resolve`, so all of them use a
model at the same point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OperatingPoint:
    default: float  # for a model made without this point
    meaning: str


POINTS = {
    "event_threshold": OperatingPoint(
        0.3, "lowest score of a reported sound event"),
    "similarity_threshold": OperatingPoint(
        # Measured with bench/enroll_fsdd.py on two closed-set FSDD models: 0.92 and 0.94 tie
        # on their mean. Their pooled embeddings are non-negative (ReLU), so even a stranger
        # scored ~0.9: each checkpoint deserves its own sweep (degram calibrate --speakers).
        0.92, "similarity (T-normalised with tnorm_scale, else cosine) below which a speaker "
              "is 'unknown'"),
    "tnorm_scale": OperatingPoint(
        0.0, "AAM scale: logits / scale are the cosines with the training speakers that "
             "normalise a speaker model's similarities (T-norm); 0: plain cosine"),
    "vad_min_speech": OperatingPoint(
        # the shipped speaker model's own before it had one (degram calibrate --vad)
        0.25, "share of a window's frames that must be speech to identify a speaker"),
    "teach_threshold": OperatingPoint(
        # chosen on validation with ten classes held out of training (bench/teach.py: 0.84)
        0.85, "similarity below which a window is no taught sound ('unknown')"),
    "label_threshold": OperatingPoint(
        0.5, "lowest score at which a closed-set model names one of its own labels"),
}
# Per-class event thresholds a checkpoint may carry ({label: threshold}); a label without
# one uses event_threshold.
EVENT_THRESHOLDS = "event_thresholds"


def meta_of(model) -> dict:
    """The meta of a Classifier, an AudioClassifier, an OnnxModel, or a meta dict itself."""
    return model if isinstance(model, dict) else getattr(model, "meta", {}) or {}


def own(name: str, model) -> float:
    """The model's own value of operating point `name`, else its default."""
    if name not in POINTS:
        raise KeyError(f"unknown operating point {name!r}; known: {sorted(POINTS)}")
    return float(meta_of(model).get(name, POINTS[name].default))


def resolve(name: str, parameter: float | None, model) -> float:
    """`parameter` when given and not negative, else the model's own (see `own`)."""
    if parameter is not None and parameter >= 0:
        return float(parameter)
    return own(name, model)


def event_thresholds(labels: list[str], parameter: float | None, model) -> np.ndarray:
    """(C,) the lowest reported score of each class: `parameter` for all when given and not
    negative, else each label's own threshold from the model, else its event_threshold."""
    if parameter is not None and parameter >= 0:
        return np.full(len(labels), float(parameter))
    per_class = meta_of(model).get(EVENT_THRESHOLDS) or {}
    fallback = own("event_threshold", model)
    return np.asarray([float(per_class.get(label, fallback)) for label in labels])


def stored(model) -> dict[str, float]:
    """The operating points a model carries (what `degram info` lists)."""
    meta = meta_of(model)
    return {name: float(meta[name]) for name in POINTS if name in meta}
