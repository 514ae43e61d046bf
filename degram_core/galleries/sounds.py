"""What a taught sound is made of: the description of one window by the sound model, meant for
sounds it never trained on. Teaching goes through the one enrollment path
(enrollment.sound_embedding: the node's windows, a loudness gate, averaging); identifying a
window compares its window_vector with the taught centroids (Gallery.identify).

A window's vector is not only the last pooled layer (which knows the training classes and
little else): it is every stage of the network pooled over time and frequency, and the front
end's bands as mean and spread over time, each part standardised by the statistics of the
model's training clips (meta `teach_stats`, written by `degram calibrate --teach`) and scaled
to unit length, so that each level of detail counts alike. Five ESC-10 classes and five
snu_b36 kinds a model never heard, three clips a class: 0.625 top-1 among ten against 0.573
for MFCCs (bench/teach.py, validation, 20 draws; the last pooled layer alone gave 0.536 in a
10-draw trial). Figures: docs/open_world.md.
"""
from __future__ import annotations

import numpy as np
import torch

from ..runtime.embeddings import l2_normalise
from ..runtime.stream import window_hop_samples, windows

MIN_SOUND_S = 0.1  # of loud-enough audio (a bark is 0.16 s); requests are at least 0.5 s long


@torch.inference_mode()
def window_parts(model, frames: np.ndarray, batch: int = 32) -> list[np.ndarray]:
    """(W, window) -> the parts of each window's description: front-end bands' mean and spread
    over time (W, F) x 2, then each backbone stage pooled (W, C_s)."""
    chunks = []
    for i in range(0, len(frames), batch):
        x = model.frontend(torch.from_numpy(np.array(frames[i:i + batch], np.float32)))  # (B, T, F)
        parts = [x.mean(1), x.std(1)]
        h = model.backbone.stem(x.unsqueeze(1))  # (B, C, T', F')
        for stage in model.backbone.stages:
            h = stage(h)
            parts.append(h.mean(dim=(2, 3)))  # (B, C_s)
        chunks.append([p.cpu().numpy().astype(np.float64) for p in parts])
    return [np.concatenate([c[j] for c in chunks]) for j in range(len(chunks[0]))]


def describe(model, frames: np.ndarray, stats: dict | None) -> np.ndarray:
    """(W, window) -> (W, D) unit vectors."""
    parts = window_parts(model, frames)
    if stats is not None:
        parts = [(p - np.asarray(m)) / np.asarray(s)
                 for p, m, s in zip(parts, stats["mean"], stats["std"])]
    return l2_normalise(np.concatenate([l2_normalise(p + 1e-12) for p in parts], axis=1))


def window_vector(classifier, window: np.ndarray, rate: int) -> np.ndarray:
    """One window at the model's rate -> (D,) unit vector."""
    if classifier.backend != "torch":
        raise ValueError("taught sounds need the PyTorch backend (backend: torch)")
    del rate  # the caller's audio is at the model's rate already (classifier.prepare)
    return describe(classifier.model, np.asarray(window, np.float32)[None],
                    classifier.meta.get("teach_stats"))[0]


def stats_of(model, waves: list[np.ndarray], sample_rate: int, window_s: float = 2.0,
             hop_s: float = 1.0) -> dict:
    """The mean and spread of each part over the windows of `waves` (training clips)."""
    parts = [window_parts(model, windows(w, *window_hop_samples(window_s, hop_s, sample_rate)))
             for w in waves]
    joined = [np.concatenate([p[j] for p in parts]) for j in range(len(parts[0]))]
    return {"mean": [j.mean(0).tolist() for j in joined],
            "std": [(j.std(0) + 1e-6).tolist() for j in joined]}
