"""One self-describing, code-free checkpoint file per model.

The file is a plain dict of tensors, strings and numbers, read back with
`torch.load(weights_only=True)`: a model file can never run code when it is loaded.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from .files import atomic_write
from ..nn.models import AudioClassifier, build_model

FORMAT = "degram-checkpoint"
VERSION = 1
REQUIRED = ("format", "version", "model", "config", "num_classes", "labels", "sample_rate",
            "state_dict", "meta")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message starts with the file's path."""


def atomic_save(obj, path: str | Path) -> None:
    """torch.save through a temporary file and a rename, so a crash never leaves half a file."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save_checkpoint(path: str | Path, model: AudioClassifier, labels: list[str] | None = None,
                    meta: dict | None = None) -> None:
    """`labels` and `meta` default to the model's own."""
    labels = [str(label) for label in (labels or model.labels)]
    if len(labels) != model.num_classes:
        raise ValueError(f"{len(labels)} labels for a model with {model.num_classes} classes")
    atomic_save({
        "format": FORMAT,
        "version": VERSION,
        "model": model.name,
        "config": model.config,
        "num_classes": model.num_classes,
        "labels": labels,
        "sample_rate": model.sample_rate,
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "meta": dict(model.meta if meta is None else meta),
    }, path)


def check_file(path: str | Path, what: str = "checkpoint") -> Path:
    """`path` if it is a file; else CheckpointError saying what it is instead."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: a directory, not a {what} file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what} file")
    return path


def safe_load(path: str | Path, map_location="cpu"):
    """torch.load(weights_only=True) with errors that name the file."""
    path = check_file(path)
    check_integrity(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        # weights_only refuses every global it does not know: such a file would import and
        # call arbitrary code (os.system, ...) if unpickled the ordinary way.
        globals_named = [line.strip() for line in str(error).splitlines() if "GLOBAL" in line]
        if globals_named:
            raise CheckpointError(f"{path}: refused, loading it could run code "
                                  f"({globals_named[0]})") from None
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or not a torch "
                              f"file)") from None
    except Exception as error:
        raise CheckpointError(f"{path}: not a readable checkpoint "
                              f"({type(error).__name__}: {error})") from None


def check_integrity(path: Path) -> None:
    """Every member of the file's zip against its CRC-32, which torch.save records.

    torch.load does not check them: a checkpoint with flipped bytes in its weights loads, and
    the model answers confidently wrong. A file that is not a zip is left to torch.load.
    """
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except Exception as error:  # zipfile raises several types for a mangled archive
        raise CheckpointError(f"{path}: not a readable checkpoint (damaged zip: "
                              f"{type(error).__name__}: {error})") from None
    if damaged is not None:
        raise CheckpointError(f"{path}: corrupt, {damaged} does not match its CRC-32 (a damaged "
                              f"copy or download); replace the file")


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """The checkpoint's dict, with its format checked."""
    data = safe_load(path, map_location)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a degram checkpoint (no '{FORMAT}' format tag)")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {data.get('version')} is not "
                              f"supported (this degram reads version {VERSION})")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}")
    return data


def load_model(path: str | Path, device: str | torch.device = "cpu") -> AudioClassifier:
    """A ready model in eval mode; its `labels` and `meta` are the file's."""
    data = load_checkpoint(path)
    try:
        model = build_model(data["model"], data["num_classes"], labels=data["labels"],
                            meta=data["meta"], **data["config"])
        model.load_state_dict(data["state_dict"])
    except (ValueError, RuntimeError, TypeError) as error:
        raise CheckpointError(f"{path}: weights do not fit model {data['model']!r} ({error})") from None
    return model.to(device).eval()
