"""The dataset that reads a manifest: decoded mono clips at the model's rate, with targets;
unreadable clips logged once and passed on, never fatal."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from ..runtime.audio import SAMPLE_RATE, AudioError, load_audio
from .manifests import Item

log = logging.getLogger(__name__)


@dataclass
class Unreadable:
    """What AudioDataset yields for a clip it cannot decode; the collate function drops it and
    passes it on, so the training loop learns of clips that failed in a worker process."""

    path: str
    why: str


class AudioDataset(torch.utils.data.Dataset):
    """Decoded mono clips at `sample_rate` with integer targets; a clip that cannot be read is
    logged once with its path and yields None from `audio` (Unreadable from indexing).

    Clips are decoded when asked for: VGGSound's 200k 10 s clips would need about 127 GB
    held in memory. `cache=True` keeps them, worth it for sets that fit (FSDD, ESC-10);
    with DataLoader workers each worker keeps its own cache.
    """

    def __init__(self, items: list[Item], labels: list[str] | None = None, cache: bool = False,
                 sample_rate: int = SAMPLE_RATE):
        self.items = items
        self.labels = labels or sorted({i.label for i in items})
        self.index = {label: n for n, label in enumerate(self.labels)}
        unknown = sorted({i.label for i in items} - set(self.index))
        if unknown:
            raise ValueError(f"labels {unknown} are not among the model's {self.labels}")
        self.targets = [self.index[i.label] for i in items]
        self.sample_rate, self.cache = sample_rate, cache
        self._audio: dict[int, np.ndarray] = {}
        self.bad: dict[str, str] = {}  # path -> why

    def __len__(self) -> int:
        return len(self.items)

    def audio(self, index: int) -> np.ndarray | None:
        if index in self._audio:
            return self._audio[index]
        path = self.items[index].path
        if path in self.bad:
            return None
        try:
            wave = load_audio(path, self.sample_rate)
        except AudioError as error:
            self.bad[path] = str(error)
            log.warning("skipping unreadable clip: %s", error)
            return None
        if self.cache:
            self._audio[index] = wave
        return wave

    def __getitem__(self, index: int):
        wave = self.audio(index)
        if wave is None:
            path = self.items[index].path
            return Unreadable(path, self.bad[path])
        return wave, self.targets[index]
