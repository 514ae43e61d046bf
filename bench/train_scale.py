"""Training at scale: peak memory does not grow with the dataset, and DataLoader workers.

Writes manifests of 2,000 and 20,000 short synthetic clips (small wav files under --out),
then trains one epoch of a tiny model on each, capped at --steps batches, with 0, 1 and 2
worker processes; every run in a process of its own, so its peak RSS is its own:
    nice -n 15 python bench/train_scale.py [--sizes 2000 20000] [--workers 0 1 2]

Clips are read from disk as batches ask for them (`cache_audio: false`, the default), so the
main process holds the model, the batch in flight and the manifest, not the audio.
"""
import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

LABELS = ("low", "high", "noise")
RATE = 16000


def clip(label: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    noise = rng.standard_normal(len(t))
    if label == "noise":
        wave = noise
    else:
        wave = np.sin(2 * np.pi * rng.uniform(*((300, 500) if label == "low" else (2000, 3000))) * t)
        wave = wave + 0.05 * noise
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def make_manifest(out: Path, count: int, seconds: float) -> Path:
    """`count` clips, 5 % of them the validation split; kept for the next run."""
    from degram_core.data import Item, write_manifest

    manifest = out / f"manifest_{count}.csv"
    if manifest.exists():
        return manifest
    folder = out / f"clips_{count}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    items = []
    for n in range(count):
        label = LABELS[n % len(LABELS)]
        path = folder / f"{n:05d}_{label}.wav"
        soundfile.write(path, clip(label, seconds, rng), RATE, subtype="PCM_16")
        items.append(Item(str(path), label, split="val" if n % 20 == 0 else "train"))
    write_manifest(manifest, items)
    return manifest


def peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def one_run(manifest: str, workers: int, steps: int, out: str) -> dict:
    """Runs in its own process: one capped epoch, then the figures as JSON."""
    import torch

    from degram_core.training import TrainConfig, train

    cfg = TrainConfig(model="degram-resnet-tiny", train_manifest=manifest, out_dir=out,
                      epochs=1, batch_size=32, lr=1e-3, min_seconds=0.5, max_seconds=1.0,
                      steps_per_epoch=steps, num_workers=workers, tensorboard=False, threads=1)
    torch.set_num_threads(1)
    started = time.perf_counter()
    train(cfg, progress=False)
    total = time.perf_counter() - started
    import csv

    with open(Path(out) / "log.csv") as f:
        epoch_s = float(next(csv.DictReader(f))["seconds"])  # training and validation
    return {"steps": steps, "epoch_s": epoch_s, "total_s": round(total, 1),
            "steps_per_s": round(steps / epoch_s, 2),
            "main_peak_rss_mb": round(peak_rss_mb(resource.RUSAGE_SELF)),
            "worker_peak_rss_mb": round(peak_rss_mb(resource.RUSAGE_CHILDREN))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[2000, 20000])
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=40, help="batches of 32 per epoch, at most")
    parser.add_argument("--seconds", type=float, default=0.5, help="length of each clip")
    parser.add_argument("--out", default="runs/train_scale")
    parser.add_argument("--one", nargs=3, metavar=("MANIFEST", "WORKERS", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        manifest, workers, out = args.one
        print(json.dumps(one_run(manifest, int(workers), args.steps, out)))
        return 0

    out = Path(args.out)
    rows = ["| clips | workers | steps/s | peak RSS main MB | peak RSS worker MB |",
            "|---|---|---|---|---|"]
    for size in args.sizes:
        started = time.perf_counter()
        manifest = make_manifest(out, size, args.seconds)
        print(f"{size} clips ready ({time.perf_counter() - started:.0f} s)", flush=True)
        for workers in args.workers:
            run_dir = out / f"run_{size}_{workers}"
            for old in (run_dir / "log.csv",):
                old.unlink(missing_ok=True)
            done = subprocess.run([sys.executable, __file__, "--steps", str(args.steps),
                                   "--one", str(manifest), str(workers), str(run_dir)],
                                  capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            worker_rss = result["worker_peak_rss_mb"] if workers else "-"
            rows.append(f"| {size} | {workers} | {result['steps_per_s']} | "
                        f"{result['main_peak_rss_mb']} | {worker_rss} |")
            print(rows[-1], flush=True)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
