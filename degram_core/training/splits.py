"""Which clips train and which validate: folds, a stratified share, held-out speakers, or the
manifest's splits; an extra corpus that only trains; refits."""
from __future__ import annotations

import numpy as np

from ..data import read_manifest, select
from .config import TrainConfig


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
