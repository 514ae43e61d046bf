"""Audio in: read any file soundfile can decode, mix to mono, resample with soxr."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import soxr

SAMPLE_RATE = 16000  # the paper's rate, and every shipped model's


class AudioError(ValueError):
    """Audio that cannot be used; the message names the file or the problem."""


def to_mono(x: np.ndarray) -> np.ndarray:
    """(N,) or (N, C) -> (N,) float32, channels averaged."""
    x = np.asarray(x)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise AudioError(f"expected audio of shape (N,) or (N, C), got {x.shape}")
    return x.astype(np.float32, copy=False)


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of a (N,) or (N, C) array; a no-op at equal rates."""
    if from_rate <= 0 or to_rate <= 0:
        raise AudioError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    x = np.asarray(x, dtype=np.float32)
    if from_rate == to_rate:
        return x
    return soxr.resample(x, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a file to mono float32 in [-1, 1] at `sample_rate`: (N,)."""
    path = Path(path)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises several types for missing/corrupt files
        raise AudioError(f"{path}: cannot decode audio ({error})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no samples")
    return resample(to_mono(data), rate, sample_rate)
