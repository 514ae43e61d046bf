"""The paper's batches: every clip of a batch cropped (or tiled) to one random length, with
the crop, speed, augmentation and noise of each clip drawn from (seed, batch number), so
worker processes and a resumed run make the same batches."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..runtime.audio import SAMPLE_RATE, resample
from .dataset import Unreadable


def loud_start(wave: np.ndarray, length: int, rng: np.random.Generator,
               frame: int = 1600) -> int:
    """A crop start whose crop holds a moment drawn in proportion to its energy (frames of
    `frame` samples): a clip's label names its event, and a crop of a 5 s dog clip that
    misses the bark teaches that a quiet yard is a dog."""
    count = len(wave) // frame
    if count < 1:
        return int(rng.integers(0, len(wave) - length + 1))
    energy = np.square(wave[:count * frame].astype(np.float64)).reshape(count, frame).sum(1)
    total = energy.sum()
    moment = (int(rng.choice(count, p=energy / total)) if total > 0
              else int(rng.integers(0, count))) * frame + frame // 2
    low, high = max(0, moment - length + 1), min(len(wave) - length, moment)
    return int(rng.integers(low, max(low, high) + 1))


def fit_length(wave: np.ndarray, length: int, rng: np.random.Generator,
               max_gap: int = 0, loud: bool = False) -> np.ndarray:
    """Tile a short clip, randomly cut a long one: (N,) -> (length,).

    With `max_gap` > 0 every repeat of a tiled clip is followed by a random pause of up to
    that many samples: a speaker model trained only on back-to-back words learns that speech
    never pauses, and then reads the pauses of real speech as somebody else's voice.
    With `loud` a long clip's cut holds a loud moment of it (loud_start).
    """
    if len(wave) < length:
        repeats = math.ceil(length / len(wave))
        if max_gap > 0:
            pieces = []
            for _ in range(repeats):
                pieces += [wave, np.zeros(int(rng.integers(0, max_gap + 1)), dtype=wave.dtype)]
            wave = np.concatenate(pieces)
        else:
            wave = np.tile(wave, repeats)
    start = (loud_start(wave, length, rng) if loud
             else int(rng.integers(0, len(wave) - length + 1)))
    return wave[start:start + length]


def change_speed(wave: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """The clip played `factor` times as fast (shorter, higher): read at sample_rate * factor
    and resampled back to sample_rate. Kaldi's and WeSpeaker's speed perturbation."""
    return resample(wave, round(sample_rate * factor), sample_rate)


def add_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise at `snr_db` relative to the clip's own power."""
    power = float(np.mean(wave.astype(np.float64) ** 2))
    noise = rng.standard_normal(len(wave)) * math.sqrt(max(power, 1e-12) / 10 ** (snr_db / 10))
    return (wave + noise).astype(np.float32)


@dataclass
class Batch:
    waves: torch.Tensor  # (B, N)
    targets: torch.Tensor  # (B,)
    unreadable: list[Unreadable]  # dropped from this batch

    def __iter__(self):  # waves, targets = batch
        return iter((self.waves, self.targets))


@dataclass
class RandomLengthCollate:
    """The paper's batches: one random length in [min_s, max_s] per batch, clips tiled or cut
    to it; optional pauses between tiled repeats, and optional white noise at a chosen SNR
    or, given (low, high), at an SNR drawn per clip. Unreadable clips are dropped (a batch of
    none has no waves: None).

    Batch n's randomness comes from (seed, n) alone, so a resumed run replays the same crops
    and any number of DataLoader workers makes the same batches as the main process.
    """

    min_s: float = 4.0
    max_s: float = 6.0
    snr_db: float | tuple[float, float] | None = None
    sample_rate: int = SAMPLE_RATE
    seed: int = 0
    max_gap_s: float = 0.0
    loud_crop_prob: float = 0.0  # share of crops that hold a loud moment (loud_start)
    augment: object = None  # a (wave, rng) -> wave transform (mixing.Augment), after cropping
    # Speed perturbation that makes new speakers: a clip played at speed f (tempo and pitch
    # both move) becomes class target + (k + 1) * classes for speeds[k]; 1.0 is drawn as often.
    speeds: tuple[float, ...] = ()
    classes: int = 0  # the real labels' count, when speeds are given
    _calls: int = field(default=0, repr=False)  # number of the next batch
    _made: int = field(default=0, repr=False)  # by this copy, in a worker

    def state_dict(self) -> dict:
        return {"calls": self._calls}

    def load_state_dict(self, state: dict) -> None:
        """Continue with batch number state["calls"]; also how a training loop that runs this
        in workers (whose copies it never sees) moves on after an epoch."""
        self._calls, self._made = int(state["calls"]), 0

    def __call__(self, batch) -> Batch | None:
        worker = torch.utils.data.get_worker_info()
        if worker is None:
            number = self._calls
            self._calls += 1
        else:
            # A worker's copy dates from the start of the epoch, and the DataLoader hands
            # batches to its W workers in turn: worker w makes batches w, w + W, w + 2W, ...
            number = self._calls + worker.id + worker.num_workers * self._made
            self._made += 1
        unreadable = [b for b in batch if isinstance(b, Unreadable)]
        batch = [b for b in batch if not isinstance(b, Unreadable) and b is not None]
        if not batch:
            return Batch(None, None, unreadable) if unreadable else None
        rng = np.random.default_rng([self.seed, number])
        length = int(rng.uniform(self.min_s, self.max_s) * self.sample_rate)
        max_gap = int(self.max_gap_s * self.sample_rate)
        waves, targets = [], []
        for wave, target in batch:
            if self.speeds:
                choice = int(rng.integers(0, len(self.speeds) + 1))
                if choice:
                    wave = change_speed(wave, self.speeds[choice - 1], self.sample_rate)
                    target += choice * self.classes
            targets.append(target)
            loud = bool(self.loud_crop_prob) and rng.random() < self.loud_crop_prob
            wave = fit_length(wave, length, rng, max_gap, loud)
            if self.augment is not None:
                wave = self.augment(wave, rng)
            if self.snr_db is not None:
                snr = (rng.uniform(*self.snr_db) if isinstance(self.snr_db, (tuple, list))
                       else self.snr_db)
                wave = add_noise(wave, snr, rng)
            waves.append(wave)
        return Batch(torch.from_numpy(np.stack(waves)), torch.tensor(targets), unreadable)
