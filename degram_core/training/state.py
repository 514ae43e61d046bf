"""Where a run is, and the resume state of last.pt: built here only, read back here only."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch


@dataclass
class Progress:
    epoch: int = 0  # epochs finished
    best: float = -1.0  # best validation score so far (accuracy, or 1 - EER)
    bad_epochs: int = 0  # epochs since it last improved
    # inside the epoch being trained: steps taken and their running figures
    step: int = 0
    seen: int = 0
    correct: int = 0
    loss_sum: float = 0.0

    def epoch_done(self, epoch: int, score: float, improved: bool) -> None:
        self.epoch, self.best = epoch, max(score, self.best)
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        self.step, self.seen, self.correct, self.loss_sum = 0, 0, 0, 0.0


def resume_state(progress: Progress, optimizer, scheduler, collate_calls: int) -> dict:
    """The `training` entry of last.pt's meta: everything a resumed run needs to make the
    batches and updates an uninterrupted one would."""
    return {**asdict(progress), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
            "collate": {"calls": collate_calls}}


def restore(training: dict, model, optimizer, scheduler, collate, state_dict) -> Progress:
    """Undo resume_state: weights, optimizer, scheduler, RNG and batch count; the progress."""
    model.load_state_dict(state_dict)
    optimizer.load_state_dict(training["optimizer"])
    scheduler.load_state_dict(training["scheduler"])
    torch.set_rng_state(training["torch_rng"])
    collate.load_state_dict(training.get("collate") or {"calls": training["collate_calls"]})
    return Progress(**{f.name: training.get(f.name, f.default) for f in fields(Progress)})
