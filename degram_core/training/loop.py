"""The training loop of Sec. 3.3: Adam, plateau schedule, early stopping, balanced epochs,
random-length batches, resumable mid-epoch, and data-parallel under torchrun.

train() is its steps: `start` (data, model, optimizer, resume), then each epoch
`train_epoch` (the batches, mid-epoch checkpoints) and `end_epoch` (validate, schedule, log,
checkpoint). Each step draws from the random generators in the order the first single
function did, so runs and resumed runs give the same figures as before.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.dataset import AudioDataset
from ..data.mixing import mixup
from ..nn.models import build_model
from ..runtime.checkpoint import load_checkpoint, save_checkpoint
from .batches import training_data
from .config import TrainConfig
from .distributed import distributed, sync_buffers
from .logs import Logger
from .splits import split_items
from .state import Progress, restore, resume_state
from .validation import validate


@dataclass
class Run:
    """Everything one training run holds."""
    cfg: TrainConfig
    rank: int
    world: int
    device: torch.device
    out: Path
    labels: list[str]
    model: torch.nn.Module
    train_set: AudioDataset
    val_set: AudioDataset
    optimizer: torch.optim.Optimizer
    scheduler: object
    progress: Progress = field(default_factory=Progress)
    loader: object = None
    sampler: object = None
    collate: object = None
    net: torch.nn.Module | None = None
    logger: Logger | None = None

    @property
    def last_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"

    def meta(self, **more) -> dict:
        """What every checkpoint of the run says about it."""
        cfg = self.cfg
        return {"config": asdict(cfg), "labels_from": cfg.train_manifest,
                # its labels are the training speakers, strangers to whoever uses it
                **({"speaker_embedding": True} if cfg.val_metric == "eer" else {}), **more}


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True,
          on_epoch_end=None, on_step_end=None) -> dict:
    """Train until early stopping or `cfg.epochs`; returns a summary. Writes best.pt and
    last.pt (the latter with the optimizer, scheduler and RNG state) after every epoch, and
    last.pt every `cfg.checkpoint_every` steps; `resume` goes on from last.pt, mid-epoch too."""
    run = start(cfg, resume)
    try:
        while run.progress.epoch < cfg.epochs and run.progress.bad_epochs < cfg.early_stop:
            epoch = run.progress.epoch + 1
            figures = train_epoch(run, epoch, progress, on_step_end)
            end_epoch(run, epoch, figures, progress)
            if on_epoch_end is not None:
                on_epoch_end(epoch)
    finally:
        run.logger.close()
    return summary(run)


def start(cfg: TrainConfig, resume: bool) -> Run:
    """A run ready for its next epoch: a fresh one, or last.pt's when resuming."""
    rank, world = distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available()
                          else "cpu")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    train_items, val_items, labels = items_and_labels(cfg)
    model = build_model(cfg.model, len(labels), labels=labels, **cfg.model_options).to(device)
    if cfg.mixup_alpha and model.cfg.head != "linear":
        raise ValueError("mixup_alpha needs the linear head: a margin head has one target a clip")
    # Clips are decoded at the model's rate: an 8 kHz model learns from 8 kHz audio.
    train_set = AudioDataset(train_items, labels, cache=cfg.cache_audio,
                             sample_rate=model.sample_rate)
    # Validation speakers are not among the training labels: they keep labels of their own.
    val_set = AudioDataset(val_items, labels=None if cfg.val_metric == "eer" else labels,
                           cache=cfg.cache_audio, sample_rate=model.sample_rate)
    optimizer, scheduler = optimizer_and_schedule(cfg, model)
    run = Run(cfg, rank, world, device, out, labels, model, train_set, val_set, optimizer,
              scheduler)
    if cfg.init_from and not resume:
        initial_weights(run)
    run.loader, run.sampler, run.collate = training_data(cfg, train_set, rank, world)
    if resume:
        resume_from_last(run)
    run.net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    run.sampler.skip = run.progress.step * run.loader.batch_size
    run.logger = Logger(out, cfg.tensorboard, rank == 0)
    return run


def items_and_labels(cfg: TrainConfig) -> tuple[list, list, list[str]]:
    """(training clips, validation clips, the model's labels), checked."""
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
    return train_items, val_items, labels


def optimizer_and_schedule(cfg: TrainConfig, model: torch.nn.Module):
    """Adam, the SincGram's filters at their own rate; a plateau or cosine schedule."""
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
    return optimizer, scheduler


def initial_weights(run: Run) -> None:
    """init_from: another checkpoint's weights, for the same labels."""
    start_from = load_checkpoint(run.cfg.init_from)
    if list(start_from.get("labels") or []) != run.labels:
        raise ValueError(f"init_from {run.cfg.init_from}: its labels are not this run's "
                         f"{len(run.labels)} training labels")
    run.model.load_state_dict(start_from["state_dict"])


def resume_from_last(run: Run) -> None:
    if not run.last_path.exists():
        raise FileNotFoundError(f"{run.last_path}: no checkpoint to resume from; train without "
                                f"--resume to start afresh, or check out_dir")
    data = load_checkpoint(run.last_path)
    run.progress = restore(data["meta"]["training"], run.model, run.optimizer, run.scheduler,
                           run.collate, data["state_dict"])
    if run.rank == 0:
        print(f"resuming {run.last_path} after epoch {run.progress.epoch}"
              + (f", step {run.progress.step}" if run.progress.step else ""))


def train_epoch(run: Run, epoch: int, progress: bool, on_step_end) -> dict:
    """One epoch's batches (from the step a resumed run stopped at); its running figures."""
    cfg, p = run.cfg, run.progress
    run.sampler.set_epoch(epoch)
    first_batch, fetched = run.collate.state_dict()["calls"], 0
    started = time.time()
    run.net.train()
    first_step = p.step
    bar = tqdm(run.loader, desc=f"epoch {epoch}", unit="batch", leave=False,
               disable=not progress or run.rank != 0, total=cfg.steps_per_epoch or len(run.loader),
               initial=first_step)
    for step, batch in enumerate(bar, start=first_step):
        if cfg.steps_per_epoch and step >= cfg.steps_per_epoch:
            break
        fetched = step + 1 - first_step  # batches this iterator made (crop numbers used)
        for clip in getattr(batch, "unreadable", ()):  # decoded (and failed) in a worker
            run.train_set.bad.setdefault(clip.path, clip.why)
        if batch is not None and batch.waves is not None:
            train_step(run, batch, epoch, step)
            bar.set_postfix(loss=f"{p.loss_sum / p.seen:.3f}", acc=f"{p.correct / p.seen:.3f}")
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and run.rank == 0:
            p.step = step + 1
            save_checkpoint(run.last_path, run.model, run.labels, run.meta(
                epoch=p.epoch, training=resume_state(p, run.optimizer, run.scheduler,
                                                     first_batch + fetched)))
        if on_step_end is not None:
            on_step_end(epoch, step + 1)
    bar.close()
    run.collate.load_state_dict({"calls": first_batch + fetched})
    figures = {"seen": p.seen, "correct": p.correct, "loss_sum": p.loss_sum, "started": started}
    if run.world > 1:
        sync_buffers(run.model, run.world)
    return figures


def train_step(run: Run, batch, epoch: int, step: int) -> None:
    cfg, p = run.cfg, run.progress
    waves, targets = batch.waves.to(run.device), batch.targets.to(run.device)
    if cfg.mixup_alpha:  # drawn from (seed, epoch, step): resumes exactly
        waves, partner, share = mixup(waves, cfg.mixup_alpha,
                                      np.random.default_rng([cfg.seed, epoch, step]))
        logits = run.net(waves)
        loss = (share * torch.nn.functional.cross_entropy(logits, targets)
                + (1 - share) * torch.nn.functional.cross_entropy(logits, targets[partner]))
    else:
        logits = run.net(waves, targets)  # a margin head applies its margin here
        loss = torch.nn.functional.cross_entropy(logits, targets)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    p.seen += len(targets)
    p.correct += int((logits.argmax(1) == targets).sum())
    p.loss_sum += loss.item() * len(targets)


def end_epoch(run: Run, epoch: int, figures: dict, progress: bool) -> None:
    """Validate (every rank, on the whole set, so all take the same decisions), step the
    schedule, log, and write best.pt (when better) and last.pt."""
    cfg = run.cfg
    score, logged, kept = validate(run.model, run.val_set, cfg)
    if cfg.lr_schedule == "plateau":
        run.scheduler.step(score)
    else:
        run.scheduler.step()
    # a refit has no held-out clip of the labels it is scored on: the last epoch stands
    improved = score > run.progress.best or bool(cfg.refit_labels)
    run.progress.epoch_done(epoch, score, improved)
    seen = max(figures["seen"], 1)
    row = {"epoch": epoch, "train_loss": figures["loss_sum"] / seen,
           "train_acc": figures["correct"] / seen, **logged,
           "lr": run.optimizer.param_groups[0]["lr"],
           "seconds": round(time.time() - figures["started"], 1)}
    run.logger.epoch(row)
    if run.rank != 0:
        return
    meta = run.meta(epoch=epoch, **kept, **best_figure(cfg, run.progress.best))
    if improved:
        save_checkpoint(run.best_path, run.model, run.labels, meta)
    save_checkpoint(run.last_path, run.model, run.labels, {**meta, "training": resume_state(
        run.progress, run.optimizer, run.scheduler, run.collate.state_dict()["calls"])})
    if progress:
        shown = (f"val_eer {row['val_eer']:.3f}" if cfg.val_metric == "eer"
                 else f"val_acc {row['val_acc']:.3f}")
        print(f"epoch {epoch}: loss {row['train_loss']:.3f} acc {row['train_acc']:.3f} "
              f"{shown} lr {row['lr']:.1e} ({row['seconds']} s)")


def best_figure(cfg: TrainConfig, best: float) -> dict:
    """The best validation figure, as its metric is reported: accuracy, or EER."""
    return {"best_val_eer": 1.0 - best} if cfg.val_metric == "eer" else {"best_val_accuracy": best}


def summary(run: Run) -> dict:
    return {"model": run.model, "epochs": run.progress.epoch, "val_metric": run.cfg.val_metric,
            **best_figure(run.cfg, run.progress.best), "best": str(run.best_path),
            "last": str(run.last_path), "labels": run.labels,
            "sample_rate": run.train_set.sample_rate,
            "skipped": {**run.train_set.bad, **run.val_set.bad}}
