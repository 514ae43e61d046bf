"""Speaker ID as the node meets it: sentences, not single digits.

Each FSDD speaker's test-split digits (takes 0-4, never trained on) are strung into
sentences with random pauses and a noise floor, then classified window by window as the
speaker_id node does (1 s windows every 0.5 s). Single-clip accuracy hides a model that
has learned each recording's silence instead of the voice: this does not.

    python bench/fsdd_sentences.py models/speaker_id.pt [other.pt ...]
"""
import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

from degram_core import Classifier, load_audio


def sentences(data: Path, rate: int, count: int, seed: int):
    """(speaker, sentence, pause_s, floor_db) tuples, `count` per condition and speaker."""
    rows = [r for r in csv.DictReader(open(data / "meta.csv")) if r["split"] == "test"]
    rng = np.random.default_rng(seed)
    by_speaker = {}
    for row in rows:
        by_speaker.setdefault(row["speaker"], []).append(data / row["file"])
    for speaker, files in sorted(by_speaker.items()):
        clips = [load_audio(f, rate) for f in files]
        for pause_s in (0.1, 0.4):
            for floor_db in (None, -50.0, -35.0):
                for _ in range(count):
                    pieces = []
                    for i in rng.choice(len(clips), 6, replace=False):
                        clip = clips[i] / (np.abs(clips[i]).max() + 1e-9) * 0.5
                        pieces += [clip, np.zeros(int(rng.uniform(0.5, 1.5) * pause_s * rate))]
                    wave = np.concatenate(pieces).astype(np.float32)
                    if floor_db is not None:
                        wave += (rng.standard_normal(len(wave)) * 10 ** (floor_db / 20)).astype(np.float32)
                    yield speaker, wave, pause_s, floor_db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data", default="../shared/data/fsdd", type=Path)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--hop", type=float, default=0.5)
    parser.add_argument("--per-condition", type=int, default=3, help="sentences per speaker and condition")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"window accuracy ({args.window:g} s every {args.hop:g} s) on FSDD test-split sentences")
    print("| model | pauses 0.1 s | pauses 0.4 s | no floor | floor -50 dB | floor -35 dB | all |")
    print("|---|---|---|---|---|---|---|")
    for path in args.checkpoints:
        clf = Classifier(path, device="cpu")
        hits: dict[tuple, list] = {}
        for speaker, wave, pause_s, floor_db in sentences(args.data, clf.sample_rate,
                                                         args.per_condition, seed=0):
            for window in clf.predict_windows(wave, clf.sample_rate, args.window, args.hop):
                hits.setdefault((pause_s, floor_db), []).append(window.prediction.label == speaker)

        def mean(keys):
            return np.mean([h for k in keys for h in hits[k]])
        pauses = [[k for k in hits if k[0] == p] for p in (0.1, 0.4)]
        floors = [[k for k in hits if k[1] == f] for f in (None, -50.0, -35.0)]
        cells = [mean(k) for k in pauses + floors] + [mean(list(hits))]
        print(f"| {Path(path)} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
