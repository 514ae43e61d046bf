"""Embeddings as the galleries and the scoring of speakers compare them: unit vectors (the
one L2 normalisation), centroids, T-normalised scores, and the batch embedding of clips."""
from __future__ import annotations

import numpy as np
import torch


def l2_normalise(x, what: str = "embedding") -> np.ndarray:
    """(..., D) -> unit vectors along the last axis (a float array keeps its dtype). A vector
    that is empty, not finite or all zeros has no direction to compare: ValueError."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"{what} is empty or holds NaN/infinite values")
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    if (norm == 0).any():
        raise ValueError(f"{what} is all zeros: it has no direction to compare")
    return x / norm


def centroid(units: np.ndarray, what: str = "centroid") -> np.ndarray:
    """(K, D) unit embeddings -> (D,): their mean, normalised. How a gallery holds a speaker
    (or a sound) and how the speaker figures enroll one."""
    return l2_normalise(np.mean(units, axis=0), what)


@torch.inference_mode()
def speaker_vectors(forward, waves, tnorm_scale: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """Unit embeddings (N, D) of clips, one at a time; `forward` maps a (1, N) tensor to
    (embedding (1, D), logits (1, C)). Given the AAM scale of a model that T-normalises its
    scores, also each clip's cosines with the training speakers (N, C): its logits / scale."""
    embeddings, cohort = [], []
    for wave in waves:
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(1, -1)
        embedding, logits = forward(wave)
        embeddings.append(embedding[0].float().cpu().numpy())
        if tnorm_scale:
            cohort.append(logits[0].float().cpu().numpy() / tnorm_scale)
    return l2_normalise(np.stack(embeddings)), (np.stack(cohort) if tnorm_scale else None)


def tnorm(scores: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Cosines (..., S) of clips with enrolled speakers, in standard deviations above the
    clips' mean cosine with a cohort (..., C)."""
    mean = cohort.mean(-1, keepdims=True)
    return (scores - mean) / np.maximum(cohort.std(-1, keepdims=True), 1e-6)
