"""The time-frequency representations of the paper: Spectrogram, SincGram, TF-DELayer, DEGram.

Every module takes a waveform batch (B, N) at 16 kHz (or a spectrogram, for SincGram and
TF-DELayer) and returns a (B, T, F) map: T frames of 10 ms, F frequency bins or bands.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class FrontendConfig:
    """Hyperparameters of the representation; defaults are the paper's (README, The model)."""

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


def log_normalize(x: torch.Tensor, eps: float, top_db: float) -> torch.Tensor:
    """Log compression then a per-clip z-score: (B, T, F) -> (B, T, F).

    Per clip, not dataset statistics, so a model works at any input gain and needs no
    statistics file beside it. The floor relative to the clip's peak keeps empty bands (audio
    recorded at 8 kHz has nothing above 4 kHz) from dominating the normalisation.
    """
    peak = x.amax(dim=(1, 2), keepdim=True)
    x = torch.log(torch.maximum(x + eps, peak * 10 ** (-top_db / 20)))
    mean = x.mean(dim=(1, 2), keepdim=True)
    std = x.std(dim=(1, 2), keepdim=True, unbiased=False)
    return (x - mean) / (std + 1e-5)


class STFTMagnitude(nn.Module):
    """Waveform (B, N) -> linear magnitude spectrogram (B, T, n_fft // 2 + 1)."""

    def __init__(self, cfg: FrontendConfig):
        super().__init__()
        self.n_fft, self.win_length, self.hop_length = cfg.n_fft, cfg.win_length, cfg.hop_length
        self.register_buffer("window", torch.hann_window(cfg.win_length), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.shape[-1] < self.n_fft:  # a clip shorter than one window still gives a frame
            wave = F.pad(wave, (0, self.n_fft - wave.shape[-1]))
        spec = torch.stft(wave, self.n_fft, self.hop_length, self.win_length, self.window,
                          center=True, pad_mode="constant", return_complex=True)
        return spec.abs().transpose(1, 2)  # (B, F, T) -> (B, T, F)


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


class TFDELayer(nn.Module):
    """Time and frequency attention (Eq. 3-5) on a (B, T, M) map; keeps its shape for any T."""

    def __init__(self, n_bands: int, cfg: FrontendConfig | None = None):
        super().__init__()
        cfg = cfg or FrontendConfig()
        if cfg.aggregation not in ("max", "mean"):
            raise ValueError(f"aggregation must be 'max' or 'mean', got {cfg.aggregation!r}")
        if cfg.time_kernel % 2 == 0:
            raise ValueError(f"time_kernel must be odd to keep T frames, got {cfg.time_kernel}")
        self.aggregation = cfg.aggregation
        hidden = max(1, round(n_bands * cfg.reduction))
        self.freq_mlp = nn.Sequential(nn.Linear(n_bands, hidden), nn.ReLU(inplace=True),
                                      nn.Linear(hidden, n_bands))
        self.time_conv = nn.Conv1d(1, 1, cfg.time_kernel, padding=cfg.time_kernel // 2)

    def attention(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, M) -> frequency weights (B, M) and time weights (B, T), each in (0, 1)."""
        freq = torch.sigmoid(self.freq_mlp(s.mean(dim=1)))  # GAP over time -> (B, M)
        time = torch.sigmoid(self.time_conv(s.mean(dim=2).unsqueeze(1)).squeeze(1))  # (B, T)
        return freq, time

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        freq, time = self.attention(s)
        by_freq = s * freq.unsqueeze(1)  # (B, T, M)
        by_time = s * time.unsqueeze(2)  # (B, T, M)
        if self.aggregation == "max":
            return torch.maximum(by_freq, by_time)
        return (by_freq + by_time) / 2


class Frontend(nn.Module):
    """Waveform (B, N) -> representation (B, T, out_bins): one of the paper's four.

    kind: "spectrogram" (257 log-STFT bins), "sincgram" (M learned bands),
    "despectrogram" (spectrogram + TF-DELayer), "degram" (SincGram + TF-DELayer).
    """

    KINDS = ("spectrogram", "sincgram", "despectrogram", "degram")

    def __init__(self, kind: str, cfg: FrontendConfig | None = None):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown front end {kind!r}; choose from {self.KINDS}")
        self.kind, self.cfg = kind, cfg or FrontendConfig()
        self.stft = STFTMagnitude(self.cfg)
        self.sincgram = SincGram(self.cfg) if kind in ("sincgram", "degram") else None
        self.out_bins = self.cfg.n_filters if self.sincgram is not None else self.cfg.n_fft // 2 + 1
        self.tf_delayer = TFDELayer(self.out_bins, self.cfg) if kind.startswith("de") else None

    def base(self, wave: torch.Tensor) -> torch.Tensor:
        """The representation before attention: (B, T, out_bins)."""
        spec = self.stft(wave)  # (B, T, 257)
        if self.sincgram is not None:
            spec = self.sincgram(spec)  # (B, T, M)
        return log_normalize(spec, self.cfg.eps, self.cfg.top_db)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        s = self.base(wave)
        return self.tf_delayer(s) if self.tf_delayer is not None else s

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints made before the rename (the shipped ones among them) name the TF-DELayer
        # `delayer`; load_state_dict hands each module its own copy of the dict to edit.
        old = prefix + "delayer."
        for key in [k for k in state_dict if k.startswith(old)]:
            state_dict[prefix + "tf_delayer." + key[len(old):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class Spectrogram(Frontend):
    """The baseline: log-compressed, normalised STFT magnitude, (B, N) -> (B, T, 257)."""

    def __init__(self, cfg: FrontendConfig | None = None):
        super().__init__("spectrogram", cfg)


class DEGram(Frontend):
    """SincGram + TF-DELayer, the paper's representation: (B, N) -> (B, T, M)."""

    def __init__(self, cfg: FrontendConfig | None = None):
        super().__init__("degram", cfg)


class DESpectrogram(Frontend):
    """Spectrogram + TF-DELayer, the paper's ablation: (B, N) -> (B, T, 257)."""

    def __init__(self, cfg: FrontendConfig | None = None):
        super().__init__("despectrogram", cfg)
