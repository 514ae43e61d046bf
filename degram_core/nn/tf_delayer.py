"""TF-DELayer (Eq. 3-5): time and frequency attention on a (B, T, M) map, shape kept."""
from __future__ import annotations

import torch
from torch import nn

from .frontend_config import FrontendConfig


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
