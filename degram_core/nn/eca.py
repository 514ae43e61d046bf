"""Efficient Channel Attention (ECA-Net), in every block of DEGramNet's ECA-ResNet (Eq. 6)."""
from __future__ import annotations

import math

import torch
from torch import nn


def eca_kernel_size(channels: int) -> int:
    """Eq. 6: the odd number nearest to (log2(C) + 1) / 2, ties going up (as in ECA-Net)."""
    t = int((math.log2(channels) + 1) / 2)
    return t if t % 2 else t + 1


class ECA(nn.Module):
    """Efficient Channel Attention: GAP -> Conv1D across channels -> sigmoid -> scale."""

    def __init__(self, channels: int):
        super().__init__()
        k = eca_kernel_size(channels)
        self.kernel_size = k
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        weights = self.conv(x.mean(dim=(2, 3)).unsqueeze(1))  # (B, 1, C)
        return x * torch.sigmoid(weights).transpose(1, 2).unsqueeze(-1)  # (B, C, 1, 1)
