"""SpecAugment (time and frequency masking), applied after the front end in training only."""
from __future__ import annotations

import torch
from torch import nn


class SpecAugment(nn.Module):
    """Zero `n` random bands of frequency and `n` random spans of time per example.

    Widths are drawn uniformly in [0, max]; the frequency maximum is a fraction of the bands so
    the same setting means the same thing for 64 SincGram bands and 257 STFT bins. Zero is the
    mean of the normalised representation, so a mask carries no energy cue.
    """

    def __init__(self, freq_masks: int = 2, freq_fraction: float = 0.125,
                 time_masks: int = 2, time_frames: int = 40):
        super().__init__()
        self.freq_masks, self.freq_fraction = freq_masks, freq_fraction
        self.time_masks, self.time_frames = time_masks, time_frames

    @staticmethod
    def _masks(batch: int, size: int, count: int, max_width: int, device) -> torch.Tensor:
        """(batch, size) bool, True where masked."""
        masked = torch.zeros(batch, size, dtype=torch.bool, device=device)
        max_width = min(max_width, size)
        if count == 0 or max_width < 1:
            return masked
        positions = torch.arange(size, device=device)
        for _ in range(count):
            width = torch.randint(0, max_width + 1, (batch, 1), device=device)
            start = (torch.rand(batch, 1, device=device) * (size - width + 1)).long()
            masked |= (positions >= start) & (positions < start + width)
        return masked

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, F)
        if not self.training:
            return x
        batch, frames, bins = x.shape
        freq = self._masks(batch, bins, self.freq_masks, int(bins * self.freq_fraction), x.device)
        time = self._masks(batch, frames, self.time_masks, self.time_frames, x.device)
        keep = ~(freq.unsqueeze(1) | time.unsqueeze(2))  # (B, T, F)
        return x * keep
