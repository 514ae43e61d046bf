"""Whole networks and their registry: front end -> SpecAugment -> CNN -> pooling -> fc.

`build_model("degram-resnet18", num_classes=10)`; names are "<front end>-<backbone>", plus
"degramnet" for the paper's full model (DEGram + ECA-ResNet).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from .specaugment import SpecAugment
from .backbones import BACKBONES, build_backbone
from .frontend import Frontend
from .frontend_config import FrontendConfig
from .heads import build_head

ALIASES = {"degramnet": "degram-ecaresnet"}
# Named models that are a base model with some options: the speaker embedding of
# config/train_speakers.yaml (a 192-d linear embedding trained with an AAM head).
PRESETS = {"degram-speaker": ("degram-resnet-tiny", {"embedding_dim": 192, "head": "aam"})}


@dataclass
class ModelConfig(FrontendConfig):
    """Everything a checkpoint needs to rebuild a model; overridable by keyword."""

    freq_masks: int = 2
    freq_fraction: float = 0.125
    time_masks: int = 2
    time_frames: int = 40
    dropout: float = 0.0  # before the classifier; the paper uses none
    embedding_dim: int = 0  # >0: a linear projection of the pooled features (no ReLU after it)
    head: str = "linear"  # "linear", or "aam" (additive angular margin, for speaker embeddings)
    margin: float = 0.2  # AAM margin m (radians)
    scale: float = 30.0  # AAM scale s


class AudioClassifier(nn.Module):
    """Waveform (B, N) at 16 kHz -> class logits (B, C).

    `labels` name the C classes (by default "0".."C-1"); `meta` is what a checkpoint stores
    beside the weights (training run, operating points); both are saved and loaded with it.
    """

    def __init__(self, name: str, num_classes: int, cfg: ModelConfig,
                 labels: list[str] | None = None, meta: dict | None = None):
        super().__init__()
        kind, backbone = split_name(name)
        self.name, self.num_classes, self.cfg = name, num_classes, cfg
        self.labels = [str(label) for label in labels] if labels else [
            str(i) for i in range(num_classes)]
        if len(self.labels) != num_classes:
            raise ValueError(f"{len(self.labels)} labels for a model with {num_classes} classes")
        self.meta = dict(meta or {})
        self.sample_rate = cfg.sample_rate
        self.frontend = Frontend(kind, cfg)
        self.specaugment = SpecAugment(cfg.freq_masks, cfg.freq_fraction,
                                       cfg.time_masks, cfg.time_frames)
        self.backbone = build_backbone(backbone)
        features = self.backbone.out_features
        self.embedding = (nn.Linear(features, cfg.embedding_dim) if cfg.embedding_dim
                          else nn.Identity())
        self.embedding_dim = cfg.embedding_dim or features
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = build_head(cfg.head, self.embedding_dim, num_classes, cfg.margin, cfg.scale)

    @property
    def config(self) -> dict:
        return asdict(self.cfg)

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, N) -> embedding (B, D), the input of the classifier head."""
        x = self.specaugment(self.frontend(wave))  # (B, T, F)
        return self.embedding(self.backbone(x.unsqueeze(1)))  # (B, 1, T, F) -> (B, D)

    def embed_and_logits(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) -> embedding (B, D) and logits (B, C) of one forward pass (eval mode)."""
        embedding = self.embed(wave)
        return embedding, self.fc(self.dropout(embedding))

    def forward(self, wave: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N) -> logits (B, C); `targets` (B,) in training let a margin head apply it."""
        return self.fc(self.dropout(self.embed(wave)), targets)

    @torch.no_grad()
    def representations(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every stage of the front end for one batch, for pictures and inspection."""
        frontend = self.frontend
        out = {"spectrogram": Frontend("spectrogram", frontend.cfg).to(wave.device)(wave)}
        base = frontend.base(wave)
        if frontend.sincgram is not None:
            out["sincgram"] = base  # (B, T, M)
        if frontend.tf_delayer is not None:
            out["freq_attention"], out["time_attention"] = frontend.tf_delayer.attention(base)
        out["output"] = frontend.tf_delayer(base) if frontend.tf_delayer is not None else base
        return out


def split_name(name: str) -> tuple[str, str]:
    """'degram-resnet18' -> ('degram', 'resnet18')."""
    full = ALIASES.get(name, PRESETS.get(name, (name,))[0])
    kind, _, backbone = full.partition("-")
    if kind not in Frontend.KINDS or backbone not in BACKBONES:
        raise ValueError(f"unknown model {name!r}; choose from {list_models()}")
    return kind, backbone


def list_models() -> list[str]:
    return sorted(ALIASES) + sorted(PRESETS) + [f"{kind}-{backbone}" for kind in Frontend.KINDS
                                                for backbone in BACKBONES]


def build_model(name: str, num_classes: int, labels: list[str] | None = None,
                meta: dict | None = None, **overrides) -> AudioClassifier:
    """A freshly initialised model; `overrides` set any ModelConfig field."""
    known = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown model option(s) {unknown}; known: {sorted(known)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    preset = PRESETS.get(name, (name, {}))[1]
    return AudioClassifier(name, num_classes, ModelConfig(**{**preset, **overrides}), labels, meta)
