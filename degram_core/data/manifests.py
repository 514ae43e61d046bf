"""Data: manifests, the dataset that reads them, the paper's batching and balanced epochs.

A manifest is a CSV with a header: `path,label` and optionally `split`, `fold`, `speaker`,
`duration`. Relative paths are relative to the manifest's folder.
"""
from __future__ import annotations

import csv
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..runtime.audio import SAMPLE_RATE, AudioError, load_audio, resample

log = logging.getLogger(__name__)
COLUMNS = ("path", "label", "split", "fold", "speaker", "duration")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus"}


@dataclass
class Item:
    path: str
    label: str
    split: str = ""
    fold: str = ""
    speaker: str = ""
    duration: str = ""


def write_manifest(path: str | Path, items: list[Item]) -> None:
    """Audio paths are written relative to the manifest's folder, so a dataset folder can
    move together with its manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent.resolve()
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for item in items:
            relative = os.path.relpath(Path(item.path).resolve(), base)
            writer.writerow([relative] + [getattr(item, c) for c in COLUMNS[1:]])


def read_manifest(path: str | Path) -> list[Item]:
    """Items with absolute paths."""
    path = Path(path)
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: a manifest needs 'path' and 'label' columns")
        items = []
        for row in reader:
            audio = Path(row["path"])
            if not audio.is_absolute():
                audio = (path.parent / audio).resolve()
            items.append(Item(**{c: (row.get(c) or "") for c in COLUMNS if c != "path"},
                              path=str(audio)))
    return items


def select(items: list[Item], split: str | None = None, folds=None, exclude_folds=None) -> list[Item]:
    """Items of one split and/or of some folds (fold numbers as strings or ints)."""
    out = items
    if split:
        out = [i for i in out if i.split == split]
    if folds is not None:
        wanted = {str(f) for f in folds}
        out = [i for i in out if i.fold in wanted]
    if exclude_folds is not None:
        unwanted = {str(f) for f in exclude_folds}
        out = [i for i in out if i.fold not in unwanted]
    return out


# --- builders: one per dataset layout ------------------------------------------------------

def from_folder(root: str | Path) -> list[Item]:
    """root/<class>/**/<audio file>: the label is the class folder's name."""
    root = Path(root)
    items = [Item(str(p), p.relative_to(root).parts[0]) for p in sorted(root.rglob("*"))
             if p.suffix.lower() in AUDIO_SUFFIXES and len(p.relative_to(root).parts) > 1]
    if not items:
        raise ValueError(f"{root}: no audio files in class sub-folders")
    return items


def from_esc(root: str | Path, esc10_only: bool = False) -> list[Item]:
    """ESC-50 or ESC-10: root/audio/*.wav with root/meta/esc50.csv (or esc10.csv); the
    official 5 folds go into `fold` (never split a fold across train and test)."""
    root = Path(root)
    meta = next((root / "meta" / name for name in ("esc50.csv", "esc10.csv")
                 if (root / "meta" / name).is_file()), None)
    if meta is None:
        raise ValueError(f"{root}: no meta/esc50.csv or meta/esc10.csv")
    with open(meta, newline="") as f:
        rows = list(csv.DictReader(f))
    if esc10_only:
        rows = [r for r in rows if r.get("esc10") == "True"]
    return [Item(str(root / "audio" / r["filename"]), r["category"], fold=r["fold"]) for r in rows]


FSDD_NAME = re.compile(r"^(\d+)_([A-Za-z]+)_(\d+)\.wav$")


def from_fsdd(root: str | Path, label: str = "speaker") -> list[Item]:
    """Free Spoken Digit Dataset files `{digit}_{speaker}_{take}.wav`; official split: takes
    0-4 are test, the rest train."""
    if label not in ("speaker", "digit"):
        raise ValueError(f"label must be 'speaker' or 'digit', got {label!r}")
    root = Path(root)
    items = []
    for path in sorted(root.rglob("*.wav")):
        match = FSDD_NAME.match(path.name)
        if not match:
            continue
        digit, speaker, take = match.groups()
        items.append(Item(str(path), speaker if label == "speaker" else digit,
                          split="test" if int(take) < 5 else "train", speaker=speaker))
    if not items:
        raise ValueError(f"{root}: no FSDD files named <digit>_<speaker>_<take>.wav")
    return items


def from_speechocean762(root: str | Path) -> list[Item]:
    """speechocean762 as in ../shared/data: meta.csv (file, speaker, split, ...) beside the
    audio; the label is the speaker, the split the corpus's own (disjoint speakers)."""
    root = Path(root)
    meta = root / "meta.csv"
    if not meta.is_file():
        raise ValueError(f"{root}: no meta.csv")
    with open(meta, newline="") as f:
        return [Item(str(root / r["file"]), r["speaker"], split=r["split"], speaker=r["speaker"],
                     duration=r.get("duration_s", "")) for r in csv.DictReader(f)]


def from_vggsound(csv_path: str | Path, audio_dir: str | Path) -> list[Item]:
    """VGGSound's vggsound.csv (youtube id, start second, label, train/test) and a folder of
    audio extracted as `<id>_<start>.<ext>` (start as written, or zero-padded to 6 digits)."""
    audio_dir = Path(audio_dir)
    present = {p.stem: p for p in audio_dir.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES}
    items, missing = [], 0
    with open(csv_path, newline="") as f:
        for row in csv.reader(f):
            if len(row) < 4:
                continue
            video, start, label, split = (c.strip() for c in row[:4])
            path = present.get(f"{video}_{start}") or present.get(f"{video}_{int(start):06d}")
            if path is None:
                missing += 1
                continue
            items.append(Item(str(path), label, split=split))
    if missing:
        log.warning("vggsound: %d clips listed in %s have no audio in %s", missing, csv_path, audio_dir)
    return items


def from_voxceleb1(iden_split: str | Path, wav_root: str | Path) -> list[Item]:
    """VoxCeleb1 identification: iden_split.txt lines `<1|2|3> id10001/<video>/00001.wav`
    (1 train, 2 validation, 3 test); the label is the speaker id."""
    names = {"1": "train", "2": "val", "3": "test"}
    items = []
    with open(iden_split) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 2:
                continue
            split, rel = parts
            speaker = rel.split("/")[0]
            items.append(Item(str(Path(wav_root) / rel), speaker, split=names.get(split, split),
                              speaker=speaker))
    return items


# --- the dataset -------------------------------------------------------------------------

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


class BalancedSampler(torch.utils.data.Sampler):
    """Each epoch under-samples every class to the smallest class's size, without
    replacement, and shuffles; with several processes each takes an equal share."""

    def __init__(self, targets: list[int], seed: int = 0, rank: int = 0, world_size: int = 1):
        self.targets = np.asarray(targets)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.classes = np.unique(self.targets)
        self.per_class = min(int((self.targets == c).sum()) for c in self.classes)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.epoch])
        chosen = [rng.choice(np.flatnonzero(self.targets == c), self.per_class, replace=False)
                  for c in self.classes]
        everything = rng.permutation(np.concatenate(chosen))
        usable = len(everything) - len(everything) % self.world_size
        return everything[:usable][self.rank::self.world_size]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.per_class * len(self.classes) // self.world_size
