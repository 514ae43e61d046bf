"""The CNNs: ResNet-18/34/50 with one input channel, and the ECA-ResNet of DEGramNet (Table 1).

A backbone maps a representation (B, 1, T, F) to a pooled embedding (B, out_features); global
average pooling makes any T (and any F) work.
"""
from __future__ import annotations

import torch
from torch import nn

from .eca import ECA


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (ResNet-18/34)."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1, eca: bool = False):
        super().__init__()
        cout = width * self.expansion
        self.body = nn.Sequential(conv_bn(cin, width, 3, stride), nn.ReLU(inplace=True),
                                  conv_bn(width, cout, 3))
        self.eca = ECA(cout) if eca else nn.Identity()
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.eca(self.body(x)) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand x4 (ResNet-50, ECA-ResNet); ECA on the expanded output."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1, eca: bool = False):
        super().__init__()
        cout = width * self.expansion
        self.body = nn.Sequential(conv_bn(cin, width, 1), nn.ReLU(inplace=True),
                                  conv_bn(width, width, 3, stride), nn.ReLU(inplace=True),
                                  conv_bn(width, cout, 1))
        self.eca = ECA(cout) if eca else nn.Identity()
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.eca(self.body(x)) + self.shortcut(x))


class ResNet(nn.Module):
    """Stem (7x7/2 conv, 3x3/2 max-pool), four stages, global average pooling.

    (B, 1, T, F) -> (B, out_features).
    """

    def __init__(self, block: type[nn.Module], depths: tuple[int, ...], widths: tuple[int, ...],
                 eca: bool = False, stem_width: int | None = None):
        super().__init__()
        stem_width = stem_width or widths[0]
        self.stem = nn.Sequential(nn.Conv2d(1, stem_width, 7, 2, 3, bias=False),
                                  nn.BatchNorm2d(stem_width), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        stages, cin = [], stem_width
        for index, (depth, width) in enumerate(zip(depths, widths)):
            blocks = []
            for b in range(depth):
                stride = 2 if index > 0 and b == 0 else 1
                blocks.append(block(cin, width, stride, eca))
                cin = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.out_features = cin
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # Zero the last BN of each residual branch so every block starts as the identity:
        # deep stacks (DEGramNet has 50 blocks) then train stably from scratch.
        for m in self.modules():
            if isinstance(m, (BasicBlock, Bottleneck)):
                nn.init.zeros_(m.body[-1][1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))  # (B, C, T', F')
        return x.mean(dim=(2, 3))  # (B, C)


BACKBONES = {
    "resnet18": lambda: ResNet(BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet34": lambda: ResNet(BasicBlock, (3, 4, 6, 3), (64, 128, 256, 512)),
    "resnet50": lambda: ResNet(Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512)),
    # Table 1: bottleneck stages 3/8/36/3, widths 64/128/256/256, ECA in every block.
    "ecaresnet": lambda: ResNet(Bottleneck, (3, 8, 36, 3), (64, 128, 256, 256), eca=True),
    # A quarter-width ResNet-18 (~0.7 M parameters): the shipped default, fast on a Jetson CPU.
    "resnet-tiny": lambda: ResNet(BasicBlock, (2, 2, 2, 2), (16, 32, 64, 128)),
    # A half-width ResNet-18 (~2.8 M parameters): the speaker embedding, where width pays.
    "resnet-half": lambda: ResNet(BasicBlock, (2, 2, 2, 2), (32, 64, 128, 256)),
}


def build_backbone(name: str) -> ResNet:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {sorted(BACKBONES)}")
    return BACKBONES[name]()
