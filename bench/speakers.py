"""Speakers never trained on: verification and identification on the speechocean762 test split
(125 speakers no degram model has heard), DEGram beside Resemblyzer and an MFCC baseline.

    pip install --no-deps resemblyzer==0.1.4 && pip install webrtcvad-wheels librosa   # baseline only
    python bench/speakers.py models/speaker_id.pt [--old OLD.pt] [--no-resemblyzer]

Protocol, the node's own: a speaker is the centroid of K enrollment utterances (unit embeddings
averaged), a test utterance is scored by cosine against every centroid.
- EER over all (test utterance, enrolled speaker) trials of the 125 speakers, K = 3.
- Identification among N = 20 (mean of 20 random draws of speakers) and N = 125, K = 1 and 3.
- Open set at the checkpoint's own similarity_threshold: 20 speakers enrolled (K = 3), their
  other utterances must be named right, the utterances of 20 strangers rejected (mean of 20 draws).
- FSDD: its 6 speakers enrolled from K train takes, every test take identified.
- The embedding of a 1 s window: median ms on one thread.
A model with a `tnorm_scale` is scored as the node scores it, T-normalised by its training
speakers (`--no-tnorm`: plain cosine, for comparison). T-norm leaves every identification
figure as it is (it never reorders the enrolled speakers); EER and the open set move.
`--validation RECIPE` measures on that recipe's validation speakers (held out of the train
split, what training chooses on) instead of the test split, and on FSDD takes of its train
split that the recipe did not train on (half enrolled from, half identified) instead of the
test takes: for choosing, never the test.
Whole utterances are embedded (1.6-20 s, median 3.6 s); `--window-s` also scores crops of the
node's window length from the middle of each test utterance.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from degram_core import data  # noqa: E402
from degram_core.runtime.audio import load_audio  # noqa: E402
from degram_core.runtime.classifier import Classifier  # noqa: E402
from degram_core.runtime.operating_points import own  # noqa: E402
from degram_core.runtime.embeddings import centroid, l2_normalise, speaker_vectors  # noqa: E402
from degram_core.scoring.verification import (enroll, equal_error_rate,  # noqa: E402
                                              identification_accuracy, identified, open_set,
                                              trials)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def degram_embedder(path: str, tnorm: bool = True):
    """(waves -> (unit embeddings, cohort cosines or None), its Classifier)."""
    classifier = Classifier(path, device="cpu")
    scale = classifier.tnorm_scale if tnorm else None
    return (lambda waves: speaker_vectors(classifier.model.embed_and_logits, waves, scale),
            classifier)


def resemblyzer_embedder():
    from resemblyzer import VoiceEncoder, preprocess_wav

    encoder = VoiceEncoder("cpu", verbose=False)

    def embed(waves):
        out = []
        for wave in waves:
            trimmed = preprocess_wav(wave, source_sr=16000)
            out.append(encoder.embed_utterance(trimmed if len(trimmed) > 1600 else wave))
        return l2_normalise(np.stack(out)), None
    return embed


def mfcc_embed(waves):
    """20 MFCCs, mean and standard deviation over time; centred over the set (else c0, the
    level, dominates every cosine)."""
    import librosa

    rows = []
    for wave in waves:
        m = librosa.feature.mfcc(y=wave, sr=16000, n_mfcc=20)
        rows.append(np.concatenate([m.mean(1), m.std(1)]))
    rows = np.stack(rows)
    rows = (rows - rows.mean(0)) / (rows.std(0) + 1e-9)
    return l2_normalise(rows), None


def figures(emb: np.ndarray, speakers: list[str], threshold: float | None,
            cohort: np.ndarray | None = None, draws: int = 20, decisions: dict | None = None
            ) -> dict:
    """`decisions`, when given, gets each identification figure's per-clip right/wrong over
    all its draws: every method sees the same draws, so two can be compared clip by clip."""
    rng = np.random.default_rng(0)
    out = {}
    e3 = enroll(emb, speakers, 3, rng, cohort)
    out["EER (K=3)"], eer_threshold = equal_error_rate(*trials(e3))
    names = sorted(set(speakers))
    speakers_arr = np.asarray(speakers)
    small = 20 if len(names) >= 40 else 2 * len(names) // 3  # 10 of 15 validation speakers
    for k in (1, 3):
        right = []
        for _ in range(draws):
            chosen = rng.choice(names, small, replace=False)
            keep = np.isin(speakers_arr, chosen)
            e = enroll(emb[keep], list(speakers_arr[keep]), k, rng)
            right.append(identified(e))
        out[f"ID N={small} K={k}"] = float(np.mean([r.mean() for r in right]))
        if decisions is not None:
            decisions[f"ID N={small} K={k}"] = np.concatenate(right)
        out[f"ID N={len(names)} K={k}"] = identification_accuracy(enroll(emb, speakers, k, rng))
    if threshold is not None:
        known, rejected = [], []
        for _ in range(draws):
            chosen = rng.choice(names, min(40, len(names)), replace=False)
            keep = np.isin(speakers_arr, chosen)
            e = enroll(emb[keep], list(speakers_arr[keep]), 3, rng,
                       None if cohort is None else cohort[keep])
            a, b = open_set(e, list(chosen[:len(chosen) // 2]), threshold)
            known.append(a)
            rejected.append(b)
        out["open set: known named right"] = float(np.mean(known))
        out["open set: strangers rejected"] = float(np.mean(rejected))
        out["threshold"] = threshold
    out["EER threshold (these speakers, for reference)"] = eer_threshold
    return out


def fsdd(embed, k_values=(3, 20), recipe: str | None = None) -> dict:
    """Enrolled from train takes, test takes identified; with a `recipe`, for choosing: the
    train takes it never trained on are both enrolled from and identified, the test takes
    left alone."""
    items = data.from_fsdd(DATA / "fsdd" / "recordings")
    train = [i for i in items if i.split == "train"]
    test = [i for i in items if i.split == "test"]
    rng = np.random.default_rng(0)
    if recipe:
        from degram_core.training import TrainConfig, extra_items

        trained = {Path(i.path).name for i in extra_items(TrainConfig.from_yaml(recipe))}
        train = [i for i in train if Path(i.path).name not in trained]
        order = rng.permutation(len(train))
        half = len(order) // 2
        train, test = [train[j] for j in order[:half]], [train[j] for j in order[half:]]
    test_emb = embed([load_audio(i.path) for i in test])[0]  # T-norm keeps the ranking
    out = {}
    for k in k_values:
        names, centroids = [], []
        for name in sorted({i.speaker for i in train}):
            mine = [i for i in train if i.speaker == name]
            picked = [mine[j] for j in rng.choice(len(mine), k, replace=False)]
            centroids.append(centroid(embed([load_audio(i.path) for i in picked])[0]))
            names.append(name)
        best = np.asarray(names)[(test_emb @ np.stack(centroids).T).argmax(1)]
        out[f"FSDD ID K={k}"] = float(np.mean(best == np.asarray([i.speaker for i in test])))
    return out


def window_ms(classifier) -> float:
    torch.set_num_threads(1)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)
    times = []
    with torch.inference_mode():
        for n in range(60):
            started = time.perf_counter()
            classifier.model.embed(x[None])
            if n >= 10:
                times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--old", help="another checkpoint to compare (e.g. the previous model)")
    parser.add_argument("--no-resemblyzer", action="store_true")
    parser.add_argument("--window-s", type=float, default=None,
                        help="also score test utterances cut to this length (the node's window)")
    parser.add_argument("--cache", default="runs/bench_speakers")
    parser.add_argument("--no-tnorm", action="store_true",
                        help="score by plain cosine even where the model T-normalises")
    parser.add_argument("--validation", metavar="RECIPE",
                        help="the validation speakers of this training recipe, not the test split")
    args = parser.parse_args()
    torch.set_num_threads(1)

    if args.validation:
        from degram_core.training import TrainConfig, split_items

        items = split_items(TrainConfig.from_yaml(args.validation))[1]
        where = f"validation speakers of {args.validation}"
        args.no_resemblyzer, args.cache = True, str(Path(args.cache) / "validation")
    else:
        items = data.select(data.from_speechocean762(DATA / "speechocean762"), split="test")
        where = "speechocean762 test split"
    speakers = [i.speaker for i in items]
    print(f"{where}: {len(items)} utterances, {len(set(speakers))} speakers", flush=True)
    waves = [load_audio(i.path) for i in items]

    methods = {}
    embed, classifier = degram_embedder(args.checkpoint, not args.no_tnorm)
    threshold = own("similarity_threshold", classifier)
    if args.no_tnorm and classifier.tnorm_scale:
        threshold = None  # the model's threshold is in T-normalised units
    methods["degram"] = (embed, threshold)
    if args.old:
        old_embed, old = degram_embedder(args.old, not args.no_tnorm)
        methods["old"] = (old_embed, own("similarity_threshold", old))
    if not args.no_resemblyzer:
        methods["resemblyzer"] = (resemblyzer_embedder(), None)
    methods["mfcc"] = (mfcc_embed, None)

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    results, decisions = {}, {}
    for name, (embed, thr) in methods.items():
        started = time.time()
        stored = cache / f"{name}.npy"
        if name in ("resemblyzer", "mfcc") and stored.exists():
            emb, cohort = np.load(stored), None  # fixed baselines: embedded once
        else:
            emb, cohort = embed(waves)
            if name in ("resemblyzer", "mfcc"):
                np.save(stored, emb)
        decisions[name] = {}
        results[name] = figures(emb, speakers, thr, cohort, decisions=decisions[name])
        if args.window_s and name != "mfcc":
            n = int(args.window_s * 16000)
            crops = [w[max(0, (len(w) - n) // 2):][:n] for w in waves]
            crop_emb, crop_cohort = embed(crops)
            results[name][f"EER (K=3), test cut to {args.window_s:g} s"] = figures(
                crop_emb, speakers, None, crop_cohort)["EER (K=3)"]
        if name != "mfcc":
            results[name].update(fsdd(embed, recipe=args.validation))
        print(f"{name}: {time.time() - started:.0f} s", flush=True)

    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    print("\n| figure | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for key in keys:
        cells = [f"{r[key]:.3f}" if key in r else "" for r in results.values()]
        print(f"| {key} | " + " | ".join(cells) + " |")
    if "resemblyzer" in decisions:
        print("\nclip by clip against Resemblyzer (the same draws; McNemar z of the difference):")
        for key, ours in decisions["degram"].items():
            theirs = decisions["resemblyzer"][key]
            only_ours, only_theirs = int((ours & ~theirs).sum()), int((~ours & theirs).sum())
            z = (only_ours - only_theirs) / max(np.sqrt(only_ours + only_theirs), 1.0)
            print(f"  {key}: {len(ours)} decisions, only degram right {only_ours}, only "
                  f"Resemblyzer right {only_theirs} (z {z:+.1f})")
    print(f"\nembedding a 1 s window, one thread: {window_ms(classifier):.1f} ms (median of 50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
