"""Which sound events a window reports: the rule the sound_events node publishes by, in one
place so that benchmarks and calibration measure exactly what a robot receives.

A model that knows `background` says when nothing happens: a window whose best class is
`background` reports no event, and `background` is never reported. `speech` is an event like
any other (a behaviour may want to know that someone speaks).
"""
from __future__ import annotations

import numpy as np

BACKGROUND = "background"
SPEECH = "speech"


def reported(probs: np.ndarray, labels: list[str], threshold: float | np.ndarray,
             top_k: int, allowed: set[str] | None = None) -> list[tuple[int, float]]:
    """(class index, score) of the events a window reports, best first: (C,) -> at most top_k.
    `threshold`: one for every class, or (C,) one each (operating_points.event_thresholds);
    `allowed`, when given, keeps only those labels (the node's `classes` parameter)."""
    order = np.argsort(-probs, kind="stable")
    background = labels.index(BACKGROUND) if BACKGROUND in labels else None
    if background is not None and order[0] == background:
        return []
    thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float64), probs.shape)
    return [(int(i), float(probs[i])) for i in order
            if i != background and probs[i] >= thresholds[i]
            and (allowed is None or labels[i] in allowed)][:top_k]


def wrong_score(probs: np.ndarray, labels: list[str], allowed: set[str]) -> float:
    """The lowest threshold at which this window would report an event outside `allowed`
    (0 if its best class is background, so it never would): for calibration."""
    background = labels.index(BACKGROUND) if BACKGROUND in labels else None
    if background is not None and int(np.argmax(probs)) == background:
        return 0.0
    wrong = [probs[i] for i, label in enumerate(labels) if label not in allowed | {BACKGROUND}]
    return float(max(wrong)) if wrong else 0.0
