"""A training recipe: TrainConfig, read from YAML; a recipe may extend another (`base:`)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml


@dataclass
class TrainConfig:
    model: str = "degram-resnet18"
    model_options: dict = field(default_factory=dict)  # any ModelConfig field
    train_manifest: str = ""
    val_manifest: str = ""  # empty: the training manifest
    train_split: str | None = "train"  # None: every row (minus the validation fold)
    val_split: str | None = "val"
    val_fold: int | None = None  # cross-validation: this fold validates, the others train
    exclude_folds: list[int] = field(default_factory=list)  # held out of both (the test fold)
    # The validation fold's clips of these labels train too, and the last epoch is kept: a
    # refit once the recipe is chosen, with the fold's other labels left to calibrate on.
    refit_labels: list[str] = field(default_factory=list)
    val_fraction: float = 0.0  # >0: this stratified share of the training split validates
    val_speakers: int = 0  # >0: this many speakers of the training split validate (never trained)
    extra_train_manifest: str = ""  # its train_split rows train only: never validate or test
    extra_per_label: int = 0  # >0: at most this many of those rows per label (seeded draw)
    val_metric: str = "accuracy"  # or "eer": speaker verification of the validation speakers
    # eer: each training speaker at these speeds is another speaker ([0.9, 1.1] triples them)
    speed_speakers: list[float] = field(default_factory=list)
    val_seconds: float = 2.0  # eer: validation clips are cut to at most this (the node's window)
    tnorm: bool = False  # eer, AAM head: T-normalised scores (the checkpoint gets tnorm_scale)
    out_dir: str = "runs/default"
    epochs: int = 100  # at most; early stopping usually ends sooner
    batch_size: int = 64
    lr: float = 3e-4
    frontend_lr_scale: float = 1.0  # SincGram centres/widths learn at lr * this
    lr_schedule: str = "plateau"  # or "cosine": lr falls from `lr` to lr * lr_factor over `epochs`
    lr_patience: int = 7  # plateau: epochs without validation improvement before lr * lr_factor
    lr_factor: float = 0.1
    early_stop: int = 10  # epochs without improvement before stopping
    min_seconds: float = 4.0  # each batch gets a random length in [min, max]
    max_seconds: float = 6.0
    balanced: bool = True  # under-sample larger classes each epoch
    class_boost: dict = field(default_factory=dict)  # balanced: label -> draw k times as many
    train_snr_db: float | list[float] | None = None  # white noise while training; [lo, hi]: per clip
    tile_gap_s: float = 0.0  # at most this much silence between the repeats of a tiled clip
    loud_crop_prob: float = 0.0  # share of crops that hold a loud moment of the clip
    noise_dir: str = ""  # background recordings (first 70 % of each used) mixed into clips
    noise_prob: float = 0.0  # share of clips that get a background
    noise_snr_db: list[float] = field(default_factory=lambda: [5.0, 30.0])
    noise_exclude: list[str] = field(default_factory=list)  # recordings (by stem) not to mix in
    room_tone_prob: float = 0.0  # share of those backgrounds that are synthetic room tone
    reverb_prob: float = 0.0  # share of clips convolved with a simulated room (pyroomacoustics)
    band_limit_prob: float = 0.0  # share of clips passed through a narrower band (8-12 kHz rate)
    gain_db: list[float] | None = None  # random gain drawn in [lo, hi] dB
    mixup_alpha: float = 0.0  # >0: mixup of clip pairs in each batch, share ~ Beta(a, a)
    steps_per_epoch: int | None = None  # cap, to fit a budget
    checkpoint_every: int = 0  # also write last.pt every this many steps (0: at epoch ends only)
    cache_audio: bool = False  # keep decoded clips in memory; small sets without workers
    num_workers: int = 0  # DataLoader processes that decode and augment clips
    init_from: str = ""  # start from this checkpoint's weights (same model and labels)
    seed: int = 0
    threads: int | None = None  # torch intra-op threads
    tensorboard: bool = True

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict | None = None) -> "TrainConfig":
        data = {**read_recipe(path), **(overrides or {})}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown training option(s) {unknown}")
        return cls(**data)  # relative paths are relative to the current folder


def read_recipe(path: str | Path, extending: tuple = ()) -> dict:
    """A recipe's fields. `base: OTHER.yaml` (relative to this file) gives every field this
    one leaves out; a field set here replaces the base's whole (a list, model_options)."""
    path = Path(path)
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    base = data.pop("base", None)
    if base is None:
        return data
    base_path = path.parent / base
    if base_path.resolve() in extending + (path.resolve(),):
        raise ValueError(f"{path}: base {base} extends itself")
    return {**read_recipe(base_path, extending + (path.resolve(),)), **data}
