"""Teaching sounds from three examples: few-shot identification of classes a sound model never
trained on, its embedding beside a plain MFCC baseline.

    python bench/teach.py CHECKPOINT [--split validation|test] [--shots 3] [--draws 20]

The ten classes are those config/train_sound_events_unheard.yaml leaves out of training
(tools/prepare_sound_events.py UNHEARD_ESC: five ESC-10 classes; and the five snu_b36 kinds,
all of which it leaves out), so the figure is of the unheard model; a model that trained on
them (the shipped one) is measured on clips of positions and folds it never trained on, which
says less. Enrollment clips come from the training groups (ESC-10 folds 1-3, snu position
F0m), test clips from another group: `validation` = ESC-10 fold 4 and snu position F6m, where
the open-set threshold is chosen; `test` = fold 5 and F12m, reported.

Each clip is one vector, as `degram teach` and the node's ~/teach make it
(galleries.enrollment.sound_embedding: the mean of its half-overlapping 2 s windows that the
loudness gate passes). Figures, over `draws`
random choices of the enrollment clips: top-1 among the ten, and open set: seven classes taught,
three not; taught clips named right and untaught clips called unknown at the threshold.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from degram_core import Classifier, load_audio  # noqa: E402
from degram_core.galleries.enrollment import sound_embedding  # noqa: E402
from prepare_sound_events import UNHEARD_ESC  # noqa: E402
sys.path.insert(0, str(ROOT / "bench"))
from speakers import mfcc_embed  # noqa: E402  (the same MFCC baseline as the speaker figures)

DATA = ROOT.parent / "shared" / "data"
GROUPS = {"train": ({"1", "2", "3"}, "F0m"), "validation": ({"4"}, "F6m"), "test": ({"5"}, "F12m")}


def clips(split: str) -> dict[str, list[Path]]:
    """class -> audio files of one split's group."""
    folds, position = GROUPS[split]
    out: dict[str, list[Path]] = {}
    with open(DATA / "esc10" / "meta" / "esc10.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["category"] in UNHEARD_ESC and r["fold"] in folds:
                out.setdefault(r["category"], []).append(DATA / "esc10" / "audio" / r["filename"])
    with open(DATA / "snu_b36" / "meta.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["position"] == position:
                out.setdefault(r["kind"], []).append(DATA / "snu_b36" / r["file"])
    return out


def figures(enrol: dict, test: dict, shots: int, draws: int, seed: int = 0,
            threshold: float | None = None) -> dict:
    """enrol/test: class -> (n, D) unit vectors. Top-1 among all classes, and the open-set
    scores (best cosine among the taught, whether the clip's class was taught)."""
    rng = np.random.default_rng(seed)
    names = sorted(test)
    right, total, open_scores = 0, 0, []
    for _ in range(draws):
        centres = []
        for name in names:
            pick = rng.choice(len(enrol[name]), shots, replace=False)
            c = enrol[name][pick].mean(0)
            centres.append(c / np.linalg.norm(c))
        centres = np.stack(centres)
        taught = set(rng.choice(len(names), round(len(names) * 0.7), replace=False).tolist())
        for k, name in enumerate(names):
            scores = test[name] @ centres.T  # (n, classes)
            right += int((scores.argmax(1) == k).sum())
            total += len(scores)
            kept = sorted(taught)
            best = scores[:, kept].max(1)
            named = np.asarray(kept)[scores[:, kept].argmax(1)]
            open_scores += [(b, k in taught, n == k) for b, n in zip(best, named)]
    out = {"top1": right / total, "clips": total // draws}
    scores = np.array([s for s, _, _ in open_scores])
    taught = np.array([t for _, t, _ in open_scores])
    correct = np.array([c for _, _, c in open_scores])
    if threshold is None:  # the threshold that does best on both halves at once
        grid = np.round(np.arange(0.0, 1.0, 0.01), 2)
        balanced = [(np.mean(correct[taught] & (scores[taught] >= t)) +
                     np.mean(scores[~taught] < t)) / 2 for t in grid]
        threshold = float(grid[int(np.argmax(balanced))])
    out["threshold"] = threshold
    out["taught named right"] = float(np.mean(correct[taught] & (scores[taught] >= threshold)))
    out["untaught unknown"] = float(np.mean(scores[~taught] < threshold))
    return out


def cost(model, hop_s: float = 0.5, repeats: int = 50) -> None:
    import time

    from degram_core.galleries.sounds import window_vector

    window = (np.random.default_rng(0).standard_normal(2 * model.sample_rate) * 0.1).astype(np.float32)
    batch = torch.from_numpy(window)[None]
    for name, step in (("events", lambda: model.probabilities(batch)),
                       ("taught-sound vector", lambda: window_vector(model, window, model.sample_rate))):
        step()
        started = time.perf_counter()
        for _ in range(repeats):
            step()
        ms = (time.perf_counter() - started) / repeats * 1000
        print(f"cost, one thread: {name} {ms:.1f} ms a 2 s window = {ms / (hop_s * 10):.1f} % of a "
              f"core at hop {hop_s} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--stats-from", default="",
                        help="a manifest whose fold 1-3 clips give the embedding's statistics "
                             "(else the model's own teach_stats)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="open-set threshold (default: the model's teach_threshold on test, "
                             "chosen here on validation)")
    parser.add_argument("--cost", action="store_true",
                        help="also the cost of a window at one thread: the events alone, and with "
                             "a taught sound to compare (the node's share of a core at hop 0.5 s)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = Classifier(args.checkpoint, device="cpu")
    if args.cost:
        cost(model)
    enrol_files, test_files = clips("train"), clips(args.split)
    threshold = args.threshold
    if threshold is None and args.split == "test":
        threshold = model.meta.get("teach_threshold")
    if args.stats_from:
        from degram_core import data
        from degram_core.galleries.sounds import stats_of
        rows = data.select(data.read_manifest(args.stats_from), folds=[1, 2, 3])
        picked = np.random.default_rng(0).choice(len(rows), min(200, len(rows)), replace=False)
        model.meta["teach_stats"] = stats_of(model.model, [load_audio(rows[i].path) for i in picked],
                                             model.sample_rate)

    def degram(waves):
        return np.stack([sound_embedding(model, w, model.sample_rate, 2.0)[0] for w in waves])
    for name, embed in (("degram", degram), ("mfcc", lambda waves: mfcc_embed(waves)[0])):
        waves = {k: [load_audio(p) for p in v] for k, v in enrol_files.items()}
        tests = {k: [load_audio(p) for p in v] for k, v in test_files.items()}
        flat = [w for k in sorted(waves) for w in waves[k]] + [w for k in sorted(tests) for w in tests[k]]
        vectors = embed(flat)
        enrol, test, i = {}, {}, 0
        for k in sorted(waves):
            enrol[k], i = vectors[i:i + len(waves[k])], i + len(waves[k])
        for k in sorted(tests):
            test[k], i = vectors[i:i + len(tests[k])], i + len(tests[k])
        result = figures(enrol, test, args.shots, args.draws,
                         threshold=threshold if name == "degram" else None)
        print(f"{name}: {args.split}, {len(test)} classes, {args.shots} shots, {args.draws} draws: "
              + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in result.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
