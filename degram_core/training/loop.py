"""The training loop of Sec. 3.3: Adam, plateau schedule, early stopping, balanced epochs,
random-length batches, resumable, and data-parallel under torchrun (gloo or NCCL)."""
from __future__ import annotations

import csv
import logging
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from tqdm import tqdm

from ..runtime.checkpoint import load_checkpoint, save_checkpoint
from ..data import read_manifest, select
from ..data.crops import RandomLengthCollate
from ..data.dataset import AudioDataset
from ..data.sampler import BalancedSampler, ResumableSampler
from ..scoring.evaluate import predict_dataset
from ..data.mixing import Augment, NoiseBank, RoomBank, mixup
from ..nn.models import build_model
from ..scoring.verification import (enroll, equal_error_rate, identification_accuracy,
                           open_set_threshold, speaker_vectors, trials)

log = logging.getLogger(__name__)


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
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        data.update(overrides or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown training option(s) {unknown}")
        return cls(**data)  # relative paths are relative to the current folder


def split_items(cfg: TrainConfig):
    """(training items, validation items); the extra manifest's rows join training only."""
    train_items, val_items = _split(cfg)
    return train_items + extra_items(cfg), val_items


def extra_items(cfg: TrainConfig):
    """Another corpus that only trains (FSDD's voices beside speechocean762's): it leaves the
    validation draw as it was, so recipes with and without it are chosen on the same speakers."""
    if not cfg.extra_train_manifest:
        return []
    items = select(read_manifest(cfg.extra_train_manifest), split=cfg.train_split)
    if not cfg.extra_per_label:
        return items
    rng = np.random.default_rng(cfg.seed)
    by_label: dict[str, list] = {}
    for item in items:
        by_label.setdefault(item.label, []).append(item)
    return [clips[i] for _, clips in sorted(by_label.items())
            for i in sorted(rng.permutation(len(clips))[:cfg.extra_per_label])]


def _split(cfg: TrainConfig):
    if cfg.refit_labels and cfg.val_fold is None:
        raise ValueError("refit_labels needs a val_fold: they are that fold's clips")
    items = select(read_manifest(cfg.train_manifest), exclude_folds=cfg.exclude_folds)
    val_items = (select(read_manifest(cfg.val_manifest), exclude_folds=cfg.exclude_folds)
                 if cfg.val_manifest else items)
    if cfg.val_fold is not None:
        held = select(val_items, folds=[cfg.val_fold])
        refit = set(cfg.refit_labels)
        return (select(items, exclude_folds=[cfg.val_fold]) + [i for i in held if i.label in refit],
                [i for i in held if i.label not in refit])
    if cfg.val_fraction:
        # A stratified share of the training split validates: the test split (VGGSound's,
        # FSDD's takes 0-4) never chooses an epoch.
        from sklearn.model_selection import train_test_split

        items = select(items, split=cfg.train_split)
        return tuple(train_test_split(items, test_size=cfg.val_fraction, random_state=cfg.seed,
                                      stratify=[i.label for i in items]))
    if cfg.val_speakers:
        # Validation speakers come out of the training split: the test split's speakers
        # stay strangers that no choice here has seen.
        items = select(items, split=cfg.train_split)
        speakers = sorted({i.speaker or i.label for i in items})
        if cfg.val_speakers >= len(speakers):
            raise ValueError(f"val_speakers={cfg.val_speakers} leaves no training speaker "
                             f"among {len(speakers)}")
        rng = np.random.default_rng(cfg.seed)
        held = set(rng.choice(speakers, cfg.val_speakers, replace=False).tolist())
        return ([i for i in items if (i.speaker or i.label) not in held],
                [i for i in items if (i.speaker or i.label) in held])
    return select(items, split=cfg.train_split), select(val_items, split=cfg.val_split)


def build_augment(cfg: TrainConfig, sample_rate: int) -> Augment | None:
    if not (cfg.noise_prob or cfg.reverb_prob or cfg.gain_db or cfg.band_limit_prob):
        return None
    return Augment(noise=(NoiseBank.from_folder(cfg.noise_dir, sample_rate=sample_rate,
                                                exclude=cfg.noise_exclude)
                          if cfg.noise_dir else None),
                   noise_prob=cfg.noise_prob, snr_db=tuple(cfg.noise_snr_db),
                   room_tone_prob=cfg.room_tone_prob if cfg.noise_dir else 1.0,
                   rooms=(RoomBank(seed=cfg.seed, sample_rate=sample_rate) if cfg.reverb_prob
                          else None),
                   reverb_prob=cfg.reverb_prob, band_limit_prob=cfg.band_limit_prob,
                   gain_db=tuple(cfg.gain_db) if cfg.gain_db else None, sample_rate=sample_rate)


def training_data(cfg: TrainConfig, train_set: AudioDataset, rank: int = 0, world: int = 1):
    """(loader, sampler, collate) of the training split at the dataset's sample rate.

    Every part is picklable and seeded by (seed, epoch) or (seed, batch number), so worker
    processes and a resumed run make the batches a single uninterrupted process would.
    """
    rate = train_set.sample_rate
    snr = tuple(cfg.train_snr_db) if isinstance(cfg.train_snr_db, list) else cfg.train_snr_db
    collate = RandomLengthCollate(cfg.min_seconds, cfg.max_seconds, snr, sample_rate=rate,
                                  seed=cfg.seed, max_gap_s=cfg.tile_gap_s,
                                  loud_crop_prob=cfg.loud_crop_prob,
                                  augment=build_augment(cfg, rate),
                                  speeds=tuple(cfg.speed_speakers),
                                  # the dataset's labels are the voices, then them at each speed
                                  classes=len(train_set.labels) // (len(cfg.speed_speakers) + 1))
    # DistributedSampler also for one process: its order follows (seed, epoch), where a
    # RandomSampler's generator would have to be saved to resume the same order.
    sampler = ResumableSampler(
        BalancedSampler(train_set.targets, cfg.seed, rank, world) if cfg.balanced else
        torch.utils.data.DistributedSampler(train_set, world, rank, seed=cfg.seed))
    # A generator of its own: starting an epoch's iterator then draws nothing from the global
    # RNG, whose state a mid-epoch checkpoint holds.
    loader = torch.utils.data.DataLoader(
        train_set, max(1, cfg.batch_size // world), sampler=sampler, collate_fn=collate,
        drop_last=False, num_workers=cfg.num_workers,
        prefetch_factor=2 if cfg.num_workers else None,
        generator=torch.Generator().manual_seed(cfg.seed))
    return loader, sampler, collate


def validate_speakers(model, val_set: AudioDataset, cfg: TrainConfig) -> dict:
    """EER of the validation speakers with 3 enrollment clips each, test clips cut to the
    node's window, and the open-set threshold the node ships with.

    With `cfg.tnorm` an AAM model's scores are T-normalised by its training speakers (the
    head's class centres: verification.tnorm), and `tnorm_scale` in the result tells the nodes
    to do the same."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    longest = int(cfg.val_seconds * model.sample_rate)
    waves, speakers = [], []
    for index in range(len(val_set)):
        wave = val_set.audio(index)
        if wave is not None:
            start = max(0, (len(wave) - longest) // 2)
            waves.append(wave[start:start + longest])
            speakers.append(val_set.labels[val_set.targets[index]])
    scale = model.cfg.scale if cfg.tnorm and model.cfg.head == "aam" else None
    embeddings, cohort = speaker_vectors(lambda x: model.embed_and_logits(x.to(device)), waves,
                                         scale)
    model.train(was_training)
    rng = np.random.default_rng(cfg.seed)
    enrollment = enroll(embeddings, speakers, 3, rng, cohort)
    eer, eer_threshold = equal_error_rate(*trials(enrollment))
    # The node compares a voice with everyone enrolled; its threshold is chosen for a
    # household: two thirds of the validation speakers known, the others strangers.
    gallery = max(1, 2 * len(enrollment.names) // 3)
    return {"val_eer": eer, "val_eer_threshold": eer_threshold,
            "similarity_threshold": open_set_threshold(embeddings, speakers, gallery, 3, rng,
                                                       cohort=cohort),
            "similarity_gallery": gallery,
            "val_identification": identification_accuracy(enrollment),
            **({"tnorm_scale": float(scale)} if scale else {})}


class Logger:
    """CSV (always) and TensorBoard (when installed and asked for) logs, on rank 0 only."""

    def __init__(self, out_dir: Path, tensorboard: bool, enabled: bool):
        self.enabled, self.csv_path, self.writer = enabled, out_dir / "log.csv", None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.writer = SummaryWriter(str(out_dir / "tensorboard"))
            except ImportError:
                log.warning("tensorboard is not installed: logging to %s only", self.csv_path)

    def epoch(self, row: dict) -> None:
        if not self.enabled:
            return
        new = not self.csv_path.exists()
        with open(self.csv_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.writer is not None:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, row["epoch"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def sync_buffers(model: torch.nn.Module, world: int) -> None:
    """Average BatchNorm running statistics over the ranks.

    DDP keeps parameters identical but each rank's last forward pass updates its own running
    statistics; without this the replicas drift apart and validate differently.
    """
    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
            buffer /= world
        else:
            dist.broadcast(buffer, src=0)


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True,
          on_epoch_end=None, on_step_end=None) -> dict:
    """Train until early stopping or `cfg.epochs`; returns a summary. Writes best.pt and
    last.pt (the latter with the optimizer, scheduler and RNG state) after every epoch, and
    last.pt every `cfg.checkpoint_every` steps; `resume` goes on from last.pt, mid-epoch too."""
    rank, world = distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available()
                          else "cpu")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)

    train_items, val_items = split_items(cfg)
    if not train_items or not val_items:
        raise ValueError(f"empty split: {len(train_items)} training and {len(val_items)} "
                         f"validation clips; check train_split/val_split/val_fold")
    if cfg.val_metric not in ("accuracy", "eer"):
        raise ValueError(f"val_metric must be 'accuracy' or 'eer', got {cfg.val_metric!r}")
    labels = sorted({i.label for i in train_items})
    if cfg.speed_speakers:
        if cfg.val_metric != "eer":
            raise ValueError("speed_speakers makes new speakers: it needs val_metric: eer")
        labels += [f"{label}@{factor:g}x" for factor in cfg.speed_speakers for label in labels]
    model = build_model(cfg.model, len(labels), labels=labels, **cfg.model_options).to(device)
    if cfg.mixup_alpha and model.cfg.head != "linear":
        raise ValueError("mixup_alpha needs the linear head: a margin head has one target a clip")
    # Clips are decoded at the model's rate: an 8 kHz model learns from 8 kHz audio.
    train_set = AudioDataset(train_items, labels, cache=cfg.cache_audio,
                             sample_rate=model.sample_rate)
    # Validation speakers are not among the training labels: they keep labels of their own.
    val_set = AudioDataset(val_items, labels=None if cfg.val_metric == "eer" else labels,
                           cache=cfg.cache_audio, sample_rate=model.sample_rate)

    frontend = [p for n, p in model.named_parameters() if n.startswith("frontend.sincgram.")]
    others = [p for n, p in model.named_parameters() if not n.startswith("frontend.sincgram.")]
    groups = [{"params": others, "lr": cfg.lr}]
    if frontend:
        groups.append({"params": frontend, "lr": cfg.lr * cfg.frontend_lr_scale})
    optimizer = torch.optim.Adam(groups)
    if cfg.lr_schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=cfg.lr_factor, patience=cfg.lr_patience)
    elif cfg.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=cfg.epochs, eta_min=cfg.lr * cfg.lr_factor)
    else:
        raise ValueError(f"lr_schedule must be 'plateau' or 'cosine', got {cfg.lr_schedule!r}")
    if cfg.init_from and not resume:
        start = load_checkpoint(cfg.init_from)
        if list(start.get("labels") or []) != labels:
            raise ValueError(f"init_from {cfg.init_from}: its labels are not this run's "
                             f"{len(labels)} training labels")
        model.load_state_dict(start["state_dict"])
    loader, sampler, collate = training_data(cfg, train_set, rank, world)
    state = {"epoch": 0, "best": -1.0, "bad_epochs": 0}
    # Progress inside the epoch being trained: steps taken and their running figures.
    partial = {"step": 0, "seen": 0, "correct": 0, "loss_sum": 0.0}

    last_path, best_path = out / "last.pt", out / "best.pt"
    if resume and not last_path.exists():
        raise FileNotFoundError(f"{last_path}: no checkpoint to resume from; train without "
                                f"--resume to start afresh, or check out_dir")
    if resume:
        data = load_checkpoint(last_path)
        training = data["meta"]["training"]
        model.load_state_dict(data["state_dict"])
        optimizer.load_state_dict(training["optimizer"])
        scheduler.load_state_dict(training["scheduler"])
        torch.set_rng_state(training["torch_rng"])
        collate.load_state_dict(training.get("collate") or {"calls": training["collate_calls"]})
        state = {k: training[k] for k in ("epoch", "best", "bad_epochs")}
        partial = {k: training.get(k, partial[k]) for k in partial}
        if rank == 0:
            print(f"resuming {last_path} after epoch {state['epoch']}"
                  + (f", step {partial['step']}" if partial["step"] else ""))

    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    sampler.skip = partial["step"] * loader.batch_size
    logger = Logger(out, cfg.tensorboard, rank == 0)
    meta_base = {"config": asdict(cfg), "labels_from": cfg.train_manifest,
                 # its labels are the training speakers, strangers to whoever uses it
                 **({"speaker_embedding": True} if cfg.val_metric == "eer" else {})}

    try:
        while state["epoch"] < cfg.epochs and state["bad_epochs"] < cfg.early_stop:
            epoch = state["epoch"] + 1
            sampler.set_epoch(epoch)
            first_batch, fetched = collate.state_dict()["calls"], 0
            started = time.time()
            net.train()
            first_step, seen, correct, loss_sum = (partial[k] for k in partial)
            bar = tqdm(loader, desc=f"epoch {epoch}", unit="batch", leave=False,
                       disable=not progress or rank != 0, total=cfg.steps_per_epoch or len(loader),
                       initial=first_step)
            for step, batch in enumerate(bar, start=first_step):
                if cfg.steps_per_epoch and step >= cfg.steps_per_epoch:
                    break
                fetched = step + 1 - first_step  # batches this iterator made (crop numbers used)
                for clip in getattr(batch, "unreadable", ()):  # decoded (and failed) in a worker
                    train_set.bad.setdefault(clip.path, clip.why)
                if batch is not None and batch.waves is not None:
                    waves, targets = batch.waves.to(device), batch.targets.to(device)
                    if cfg.mixup_alpha:  # drawn from (seed, epoch, step): resumes exactly
                        waves, partner, share = mixup(
                            waves, cfg.mixup_alpha, np.random.default_rng([cfg.seed, epoch, step]))
                        logits = net(waves)
                        loss = (share * torch.nn.functional.cross_entropy(logits, targets)
                                + (1 - share) * torch.nn.functional.cross_entropy(
                                    logits, targets[partner]))
                    else:
                        logits = net(waves, targets)  # a margin head applies its margin here
                        loss = torch.nn.functional.cross_entropy(logits, targets)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    seen += len(targets)
                    correct += int((logits.argmax(1) == targets).sum())
                    loss_sum += loss.item() * len(targets)
                    bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
                if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and rank == 0:
                    partial = {"step": step + 1, "seen": seen, "correct": correct,
                               "loss_sum": loss_sum}
                    training = {**state, **partial, "optimizer": optimizer.state_dict(),
                                "scheduler": scheduler.state_dict(),
                                "torch_rng": torch.get_rng_state(),
                                "collate": {"calls": first_batch + fetched}}
                    save_checkpoint(last_path, model, labels,
                                    {**meta_base, "epoch": state["epoch"], "training": training})
                if on_step_end is not None:
                    on_step_end(epoch, step + 1)
            bar.close()
            collate.load_state_dict({"calls": first_batch + fetched})
            partial = {"step": 0, "seen": 0, "correct": 0, "loss_sum": 0.0}
            if world > 1:
                sync_buffers(model, world)

            # Every rank validates on the whole set, so all take the same decisions.
            extra = {}
            if cfg.val_metric == "eer":
                extra = validate_speakers(model, val_set, cfg)
                val_acc, val_loss = 1.0 - extra["val_eer"], float("nan")
            else:
                probs, val_targets = predict_dataset(model, val_set)
                val_acc = float(np.mean(probs.argmax(1) == val_targets))
                val_loss = float(-np.mean(np.log(probs[np.arange(len(probs)), val_targets] + 1e-12)))
            if cfg.lr_schedule == "plateau":
                scheduler.step(val_acc)
            else:
                scheduler.step()
            # a refit has no held-out clip of the labels it is scored on: the last epoch stands
            improved = val_acc > state["best"] or bool(cfg.refit_labels)
            state = {"epoch": epoch, "best": max(val_acc, state["best"]),
                     "bad_epochs": 0 if improved else state["bad_epochs"] + 1}
            row = {"epoch": epoch, "train_loss": loss_sum / max(seen, 1),
                   "train_acc": correct / max(seen, 1), "val_loss": val_loss, "val_acc": val_acc,
                   **{k: v for k, v in extra.items() if k.startswith("val_")},
                   "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.time() - started, 1)}
            logger.epoch(row)
            if rank == 0:
                meta = {**meta_base, "epoch": epoch, "val_accuracy": val_acc,
                        "best_val_accuracy": state["best"], **extra}
                if improved:
                    save_checkpoint(best_path, model, labels, meta)
                training = {**state, "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                            "collate": collate.state_dict()}
                save_checkpoint(last_path, model, labels, {**meta, "training": training})
                if progress:
                    shown = (f"val_eer {extra['val_eer']:.3f}" if extra else f"val_acc {val_acc:.3f}")
                    print(f"epoch {epoch}: loss {row['train_loss']:.3f} acc {row['train_acc']:.3f} "
                          f"{shown} lr {row['lr']:.1e} ({row['seconds']} s)")
            if on_epoch_end is not None:
                on_epoch_end(epoch)
    finally:
        logger.close()
    return {"model": model, "epochs": state["epoch"], "best_val_accuracy": state["best"],
            "best": str(best_path), "last": str(last_path), "labels": labels,
            "sample_rate": train_set.sample_rate,
            "skipped": {**train_set.bad, **val_set.bad}}

