"""degram bench: the paper's latency table (Table 8, Fig. 6) measured on this machine."""
from __future__ import annotations

HELP = "measure median latency and GFLOPs of spectrogram/DEGram ResNets on 1-10 s of audio"


def configure(parser):
    parser.add_argument("--quick", action="store_true", help="5 repeats instead of 25 (about a minute)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per cell (median)")
    parser.add_argument("--models", nargs="+", default=None, help="registry names to measure")
    parser.add_argument("--durations", nargs="+", type=float, default=None, help="seconds of audio")
    parser.add_argument("--threads", nargs="+", type=int, default=None, help="torch thread counts")


def run(args) -> int:
    from tqdm import tqdm

    from ..scoring import latency as bench

    models = args.models or bench.MODELS
    durations = args.durations or bench.DURATIONS
    threads = args.threads or bench.THREADS
    repeats = args.repeats or (5 if args.quick else 25)
    with tqdm(total=len(models) * len(durations) * len(threads), unit="cell", leave=False) as bar:
        rows = bench.run(models, durations, threads, repeats, progress=bar)
    print(f"median latency (ms) of one prediction, batch 1, {repeats} runs per cell")
    print(bench.format_table(rows))
    return 0
