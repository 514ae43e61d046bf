"""Epoch orders: balanced (larger classes under-sampled each epoch) and resumable mid-epoch."""
from __future__ import annotations

import itertools

import numpy as np
import torch


class BalancedSampler(torch.utils.data.Sampler):
    """Each epoch under-samples every class to the smallest class's size, without
    replacement, and shuffles; with several processes each takes an equal share. `boost`
    {class: k} draws k times that many of a class (as many as it has at most): the open-world
    `background`, of many more kinds of sound than any event, is shown more of them each epoch."""

    def __init__(self, targets: list[int], seed: int = 0, rank: int = 0, world_size: int = 1,
                 boost: dict[int, int] | None = None):
        self.targets = np.asarray(targets)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.classes = np.unique(self.targets)
        self.per_class = min(int((self.targets == c).sum()) for c in self.classes)
        self.counts = {int(c): min(int((self.targets == c).sum()),
                                   self.per_class * (boost or {}).get(int(c), 1))
                       for c in self.classes}
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.epoch])
        chosen = [rng.choice(np.flatnonzero(self.targets == c), self.counts[int(c)], replace=False)
                  for c in self.classes]
        everything = rng.permutation(np.concatenate(chosen))
        usable = len(everything) - len(everything) % self.world_size
        return everything[:usable][self.rank::self.world_size]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return sum(self.counts.values()) // self.world_size


class ResumableSampler(torch.utils.data.Sampler):
    """A sampler whose next epoch can start `skip` indices in: a run resumed mid-epoch goes on
    with the batches it had not seen, in the same order, without loading the others."""

    def __init__(self, sampler):
        self.sampler, self.skip = sampler, 0

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self):
        skip, self.skip = self.skip, 0
        return itertools.islice(iter(self.sampler), skip, None)

    def __len__(self) -> int:
        return len(self.sampler)
