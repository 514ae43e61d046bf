"""The front end's hyperparameters, shared by every representation and by ModelConfig."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FrontendConfig:
    """Hyperparameters of the representation; defaults are the paper's (docs/model.md)."""

    sample_rate: int = 16000
    n_fft: int = 512  # 257 bins
    win_length: int = 512  # 32 ms Hann window
    hop_length: int = 160  # 10 ms
    n_filters: int = 64  # M, SincGram bands
    order: int = 4  # n, Butterworth order
    f_min: float = 0.0
    f_max: float | None = None  # None = Nyquist
    reduction: float = 0.0625  # c, TF-DELayer frequency bottleneck
    time_kernel: int = 5  # TF-DELayer Conv1D over time; odd so T is kept
    aggregation: str = "max"  # "max" or "mean" of the two attended maps
    eps: float = 1e-6  # absolute floor of the log compression
    top_db: float = 80.0  # relative floor: nothing below the clip's peak minus this (dB)
