"""Classifier heads: the plain linear layer, and the additive angular margin softmax (AAM,
ArcFace) of speaker-embedding recipes (x-vector, ECAPA-TDNN).

A head maps an embedding (B, D) to logits (B, C). Given the targets in training, the AAM head
adds its margin to each target's angle, so an embedding must be closer to its own speaker
than to any other by that margin: the geometry that cosine scoring of strangers relies on.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LinearHead(nn.Linear):
    """logits = W e + b; the targets are ignored."""

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x)


class AAMSoftmax(nn.Module):
    """Logits s * cos(theta_c), with theta_target + m in training: (B, D) -> (B, C)."""

    def __init__(self, dim: int, num_classes: int, margin: float = 0.2, scale: float = 30.0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, dim))  # one unit centre per class
        nn.init.xavier_normal_(self.weight)
        self.margin, self.scale = margin, scale

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        cosine = F.linear(F.normalize(x), F.normalize(self.weight)).clamp(-1 + 1e-7, 1 - 1e-7)
        if targets is None:
            return self.scale * cosine
        # cos(theta + m) where theta + m stays below pi; past it, a linear continuation
        # keeps the logit decreasing in theta (the "easy margin" problem of ArcFace).
        theta = torch.acos(cosine)
        with_margin = torch.where(theta + self.margin < math.pi, torch.cos(theta + self.margin),
                                  cosine - self.margin * math.sin(self.margin))
        onehot = F.one_hot(targets, cosine.shape[1]).bool()
        return self.scale * torch.where(onehot, with_margin, cosine)


def build_head(kind: str, dim: int, num_classes: int, margin: float, scale: float) -> nn.Module:
    if kind == "linear":
        return LinearHead(dim, num_classes)
    if kind == "aam":
        return AAMSoftmax(dim, num_classes, margin, scale)
    raise ValueError(f"unknown head {kind!r}; choose 'linear' or 'aam'")
