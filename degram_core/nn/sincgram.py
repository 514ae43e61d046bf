"""SincGram (Eq. 1-2): M learnable Butterworth band-pass filters over the STFT bins, mel-spaced
at the start; (B, T, 257) -> (B, T, M)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .frontend_config import FrontendConfig


def mel_centres(f_min: float, f_max: float, count: int) -> torch.Tensor:
    """`count` frequencies (Hz) equally spaced on the mel scale strictly inside (f_min, f_max)."""
    def to_mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)

    mels = torch.linspace(to_mel(f_min), to_mel(f_max), count + 2, dtype=torch.float64)
    return (700.0 * (10.0 ** (mels / 2595.0) - 1.0))[1:-1]


class SincGram(nn.Module):
    """M learnable Butterworth band-pass filters over the STFT bins (Eq. 1-2).

    g(f; a, b, n) = 1 / sqrt(1 + ((f - a) / b) ** (2 n)); SincGram(X) = X @ W(a, b), so the
    257 -> M reduction happens here, before any convolution.

    Only centres a and widths b are learned. They are stored as unconstrained parameters in
    units of the Nyquist frequency (so Adam's step size means the same for both and at any
    rate): a = Nyquist * sigmoid(centre_logit) stays inside (0, Nyquist), and
    b = min_width + Nyquist * softplus(width_raw) stays positive and at least half a bin, so
    no filter can fall between two bins and go silent.
    """

    def __init__(self, cfg: FrontendConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or FrontendConfig()
        self.nyquist = cfg.sample_rate / 2
        f_max = cfg.f_max if cfg.f_max is not None else self.nyquist
        if not 0.0 <= cfg.f_min < f_max <= self.nyquist:
            raise ValueError(f"need 0 <= f_min < f_max <= Nyquist, got {cfg.f_min}, {f_max}")
        bins = torch.linspace(0.0, self.nyquist, cfg.n_fft // 2 + 1)
        self.register_buffer("bin_hz", bins, persistent=False)  # (F,)
        self.min_width = self.nyquist / (cfg.n_fft // 2) / 2  # half a bin, Hz

        # Mel-spaced centres; widths half the distance between neighbours, so adjacent filters
        # cross near -3 dB (1/sqrt(2)) as a mel filterbank's triangles cross at half height.
        centres = mel_centres(cfg.f_min, f_max, cfg.n_filters)
        edges = torch.cat([torch.tensor([float(cfg.f_min)], dtype=torch.float64), centres,
                           torch.tensor([float(f_max)], dtype=torch.float64)])
        widths = ((edges[2:] - edges[:-2]) / 4).clamp_min(self.min_width * 1.01)
        a = (centres / self.nyquist).clamp(1e-4, 1 - 1e-4)
        b = (widths - self.min_width) / self.nyquist
        self.centre_logit = nn.Parameter(torch.logit(a).float())  # (M,)
        self.width_raw = nn.Parameter(torch.log(torch.expm1(b)).float())  # (M,) softplus^-1

    @property
    def centres_hz(self) -> torch.Tensor:
        return self.nyquist * torch.sigmoid(self.centre_logit)  # (M,)

    @property
    def widths_hz(self) -> torch.Tensor:
        return self.min_width + self.nyquist * F.softplus(self.width_raw)  # (M,)

    def response(self, freqs_hz: torch.Tensor) -> torch.Tensor:
        """g(f; a, b, n) of Eq. 1 at frequencies (K,) or (K, M): (K, M)."""
        freqs = freqs_hz if freqs_hz.dim() == 2 else freqs_hz[:, None]
        ratio = (freqs - self.centres_hz[None, :]) / self.widths_hz[None, :]
        return torch.rsqrt(1.0 + ratio.pow(2 * self.cfg.order))

    def filters(self) -> torch.Tensor:
        """The filter matrix W(a, b): (F, M), one column per filter."""
        return self.response(self.bin_hz)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return spec @ self.filters()  # (B, T, F) @ (F, M) -> (B, T, M)
