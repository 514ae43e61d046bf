"""torch vs onnxruntime: median latency of one prediction (batch 1) on this machine.

    python bench/backends.py [--quick] [--repeats N] [--models ...] [--durations ...]

Both run exactly as the nodes run them: `Classifier(..., backend=...)` and its probabilities()
(torch: eval, channels-last; onnxruntime: the in-memory export, intra-op threads from torch).
Prints a markdown table; the last column is onnxruntime's time over torch's.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from degram_core import Classifier, build_model, save_checkpoint
from degram_core.scoring.latency import median_ms

MODELS = ("degram-resnet-tiny", "degram-resnet18")
DURATIONS = (1.0, 3.0, 5.0, 10.0)
THREADS = (1, 2)
NUM_CLASSES = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="7 runs per cell instead of 25")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--durations", nargs="+", type=float, default=DURATIONS)
    parser.add_argument("--threads", nargs="+", type=int, default=THREADS)
    args = parser.parse_args()
    repeats = args.repeats or (7 if args.quick else 25)

    lines = ["| model | threads | backend | " + " | ".join(f"{d:g} s" for d in args.durations)
             + " | export s |", "|---|---|---|" + "---|" * (len(args.durations) + 1)]
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            torch.manual_seed(0)
            path = Path(folder) / f"{name}.pt"
            save_checkpoint(path, build_model(name, NUM_CLASSES), [f"c{i}" for i in range(NUM_CLASSES)])
            for threads in args.threads:
                torch.set_num_threads(threads)
                cells, export_s = {}, {}
                for backend in ("torch", "onnxruntime"):
                    started = time.perf_counter()
                    classifier = Classifier(path, device="cpu", backend=backend, threads=threads)
                    export_s[backend] = time.perf_counter() - started
                    for seconds in args.durations:
                        wave = torch.randn(1, int(classifier.sample_rate * seconds))
                        cells[backend, seconds] = median_ms(lambda: classifier.probabilities(wave), repeats)
                for backend in ("torch", "onnxruntime"):
                    row = " | ".join(f"{cells[backend, d]:.1f}" for d in args.durations)
                    load = f"{export_s[backend]:.1f}" if backend == "onnxruntime" else "-"
                    lines.append(f"| {name} | {threads} | {backend} | {row} | {load} |")
                ratio = " | ".join(f"{cells['onnxruntime', d] / cells['torch', d]:.2f}x"
                                   for d in args.durations)
                lines.append(f"| {name} | {threads} | ort / torch | {ratio} | |")
                print("\n".join(lines[-3:]), flush=True)
    print(f"\nmedian latency (ms) of one prediction, batch 1, {repeats} runs per cell; "
          f"'export s': building the onnxruntime Classifier from a .pt (export + session)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
