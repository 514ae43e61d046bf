"""Manifests: which clips, their labels, splits, folds and speakers; readers of datasets' own layouts.

A manifest is a CSV with a header: `path,label` and optionally `split`, `fold`, `speaker`,
`duration`. Relative paths are relative to the manifest's folder.
"""
from __future__ import annotations

import csv
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path



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
