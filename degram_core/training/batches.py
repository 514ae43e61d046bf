"""The training batches of a recipe: augmentation, random-length crops, balanced (or plain)
epochs that resume mid-epoch, and the DataLoader around them."""
from __future__ import annotations

import torch

from ..data.crops import RandomLengthCollate
from ..data.dataset import AudioDataset
from ..data.mixing import Augment, NoiseBank, RoomBank
from ..data.sampler import BalancedSampler, ResumableSampler
from .config import TrainConfig


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
        BalancedSampler(train_set.targets, cfg.seed, rank, world,
                        {train_set.index[k]: v for k, v in cfg.class_boost.items()})
        if cfg.balanced else
        torch.utils.data.DistributedSampler(train_set, world, rank, seed=cfg.seed))
    # A generator of its own: starting an epoch's iterator then draws nothing from the global
    # RNG, whose state a mid-epoch checkpoint holds.
    loader = torch.utils.data.DataLoader(
        train_set, max(1, cfg.batch_size // world), sampler=sampler, collate_fn=collate,
        drop_last=False, num_workers=cfg.num_workers,
        prefetch_factor=2 if cfg.num_workers else None,
        generator=torch.Generator().manual_seed(cfg.seed))
    return loader, sampler, collate
