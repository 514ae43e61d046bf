"""Latency and FLOPs of the paper's Table 8 / Fig. 6 on this machine.

Models are prepared exactly as `Classifier` prepares them for the nodes (eval, channels-last)."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..runtime.classifier import ready_for_inference
from ..nn.models import build_model

MODELS = ("spectrogram-resnet18", "degram-resnet18", "spectrogram-resnet34")
DURATIONS = (1.0, 3.0, 5.0, 10.0)
THREADS = (1, 2)
NUM_CLASSES = 309  # VGGSound's, so the classifier layer is the paper's size


@dataclass
class Row:
    model: str
    threads: int
    latency_ms: dict[float, float]  # duration (s) -> median ms
    gflops_per_s: float


def gflops_per_second(model: torch.nn.Module, seconds: float = 10.0) -> float:
    wave = torch.randn(1, int(16000 * seconds))
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(wave)
    return counter.get_total_flops() / seconds / 1e9


def median_ms(call, repeats: int, warmup: int = 2) -> float:
    """Median wall time of `call()` in ms, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@torch.inference_mode()
def median_latency_ms(model: torch.nn.Module, seconds: float, repeats: int, warmup: int = 2) -> float:
    wave = torch.randn(1, int(16000 * seconds))
    return median_ms(lambda: model(wave), repeats, warmup)


def run(models=MODELS, durations=DURATIONS, threads=THREADS, repeats: int = 25,
        progress=None) -> list[Row]:
    saved = torch.get_num_threads()
    rows = []
    try:
        for name in models:
            torch.manual_seed(0)
            model = ready_for_inference(build_model(name, NUM_CLASSES), torch.device("cpu"))
            flops = gflops_per_second(model)
            for n in threads:
                torch.set_num_threads(n)
                latency = {}
                for seconds in durations:
                    latency[seconds] = median_latency_ms(model, seconds, repeats)
                    if progress is not None:
                        progress.update(1)
                rows.append(Row(name, n, latency, flops))
    finally:
        torch.set_num_threads(saved)
    return rows


def format_table(rows: list[Row], reference: str = "spectrogram-resnet18",
                 candidate: str = "degram-resnet18") -> str:
    durations = list(rows[0].latency_ms)
    head = " | ".join(f"{d:g} s" for d in durations)
    lines = [f"| model | threads | {head} | GFLOPs / s audio |",
             "|---|---|" + "---|" * len(durations) + "---|"]
    for row in rows:
        cells = " | ".join(f"{row.latency_ms[d]:.1f}" for d in durations)
        lines.append(f"| {row.model} | {row.threads} | {cells} | {row.gflops_per_s:.2f} |")
    by_key = {(r.model, r.threads): r for r in rows}
    pairs = [(n, by_key[reference, n], by_key[candidate, n]) for n in sorted({r.threads for r in rows})
             if (reference, n) in by_key and (candidate, n) in by_key]
    if pairs:
        lines += ["", f"ratio {candidate} / {reference} (latency per length; FLOPs):"]
    for n, ref, cand in pairs:
        ratios = "  ".join(f"{d:g} s: {cand.latency_ms[d] / ref.latency_ms[d]:.2f}" for d in durations)
        lines.append(f"  {n} thread(s): {ratios}  FLOPs: {cand.gflops_per_s / ref.gflops_per_s:.2f}")
    return "\n".join(lines)
