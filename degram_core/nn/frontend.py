"""The time-frequency representations of the paper: Spectrogram, SincGram, TF-DELayer, DEGram.

Every module takes a waveform batch (B, N) at 16 kHz (or a spectrogram, for SincGram and
TF-DELayer) and returns a (B, T, F) map: T frames of 10 ms, F frequency bins or bands.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .frontend_config import FrontendConfig
from .sincgram import SincGram
from .tf_delayer import TFDELayer


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
