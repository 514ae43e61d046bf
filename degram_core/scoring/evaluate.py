"""Evaluation on whole clips: every clip in one pass (the model pools globally)."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from ..runtime.checkpoint import load_model
from ..data import read_manifest, select
from ..data.crops import add_noise
from ..data.dataset import AudioDataset
from ..runtime.classifier import pick_device, ready_for_inference
from .metrics import classification_metrics


@torch.inference_mode()
def predict_dataset(model: torch.nn.Module, dataset: AudioDataset, snr_db: float | None = None,
                    seed: int = 0, batch_size: int = 16, progress: bool = False):
    """Probabilities (N, C) and targets (N,) of every readable clip, clips of equal length
    batched together; noise at `snr_db` if given (seeded, so runs compare)."""
    from tqdm import tqdm

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    by_length: dict[int, list[tuple[np.ndarray, int]]] = defaultdict(list)
    for index in range(len(dataset)):
        wave, target = dataset.audio(index), dataset.targets[index]
        if wave is None:
            continue
        if snr_db is not None:
            wave = add_noise(wave, snr_db, rng)
        by_length[len(wave)].append((wave, target))
    probs, targets = [], []
    groups = [group[i:i + batch_size] for group in by_length.values()
              for i in range(0, len(group), batch_size)]
    for group in tqdm(groups, unit="batch", disable=not progress, leave=False):
        waves = torch.from_numpy(np.stack([w for w, _ in group])).to(device)
        probs.append(torch.softmax(model(waves), dim=-1).cpu().numpy())
        targets += [t for _, t in group]
    model.train(was_training)
    if not probs:
        raise ValueError("no readable clip to evaluate")
    return np.concatenate(probs), np.asarray(targets)


def evaluate(checkpoint: str, manifest: str, split: str | None = None, folds=None,
             snr_db: float | None = None, device: str = "auto", progress: bool = True) -> dict:
    """Every metric of the paper for a checkpoint on (part of) a manifest."""
    model = load_model(checkpoint)
    model = ready_for_inference(model, pick_device(device))
    items = select(read_manifest(manifest), split=split, folds=folds)
    if not items:
        raise ValueError(f"{manifest}: no clips match split={split!r} folds={folds!r}")
    dataset = AudioDataset(items, labels=model.labels)
    probs, targets = predict_dataset(model, dataset, snr_db=snr_db, progress=progress)
    result = classification_metrics(probs, targets, model.labels)
    result.update({"checkpoint": str(checkpoint), "manifest": str(manifest), "snr_db": snr_db,
                   "skipped": dataset.bad})
    return result
