"""ESC-10, official 5-fold cross-validation: the paper's ablation (Tables 6-7) on data we can
use. For each test fold k, the next fold (k mod 5 + 1) validates (epoch, plateau, early stop)
and the other three train: nothing is chosen on the fold a figure is reported on. The best
epoch is evaluated on fold k, clean and with white noise at 5 dB SNR.

    python bench/esc10.py --models degram-resnet18 spectrogram-resnet18 --epochs 100
    python bench/esc10.py --tiny            # the budget that fits a 2-core CPU
    python bench/esc10.py --tiny --train-snr 5 --out runs/bench_esc10_noisy   # noise training
    python bench/esc10.py --recipe config/train_sound_events.yaml --out runs/cv_sound_events
        # the shipped sound-event recipe (12 classes, speech and background folds included);
        # each fold's model also gets its event threshold on its validation fold, and the table
        # adds the window-level recall of the right event at that threshold and the
        # validation fold's accuracy (what recipes are compared on); --set KEY=VALUE changes it.
        # Also each ESC-10 clip decided by the mean of its 2 s windows (the validation fold's
        # figure for both decisions says which to report) and the 10-way decision of the
        # ESC-10 protocol (speech and background not candidates)

Anchors: Piczak's CNN 80.5 %, human listeners 95.7 %.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from degram_core.scoring import calibration as calibrate
from degram_core.runtime.audio import load_audio
from degram_core.data import from_esc, read_manifest, select, write_manifest
from degram_core.scoring.evaluate import evaluate
from degram_core.runtime.events import BACKGROUND, SPEECH, reported
from degram_core.runtime.classifier import Classifier
from degram_core.commands.train import parse_overrides
from degram_core.training import TrainConfig, train

PAPER_MODELS = ["spectrogram-resnet18", "sincgram-resnet18", "despectrogram-resnet18", "degram-resnet18"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/esc10")
    parser.add_argument("--out", default="runs/bench_esc10")
    parser.add_argument("--models", nargs="+", default=PAPER_MODELS)
    parser.add_argument("--tiny", action="store_true", help="the -resnet-tiny versions of --models")
    parser.add_argument("--folds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--early-stop", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--snr", type=float, default=5.0, help="SNR (dB) of the noisy evaluation")
    parser.add_argument("--table", nargs="+", metavar="DIR", default=None,
                        help="train nothing: print one table from the results.json of these "
                             "--out folders (runs split across processes or machines)")
    parser.add_argument("--frontend-lr-scale", type=float, default=1.0,
                        help="SincGram centres and widths learn at lr times this")
    parser.add_argument("--train-snr", type=float, default=None,
                        help="train with white noise at this SNR (dB); default: clean training")
    parser.add_argument("--recipe", help="a config/train_*.yaml whose every option is used, "
                                         "but for the folds and out_dir")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="--recipe: override its fields, as degram train --set does")
    args = parser.parse_args()

    if args.recipe:
        return cross_validate_recipe(args)
    if args.table:
        results = {}
        for folder in args.table:
            for key, run in json.loads((Path(folder) / "results.json").read_text()).items():
                results[f"{key} ({folder})" if key in results else key] = run
        print_table(results, sorted({key.split("/")[0] for key in results}), args)
        return 0

    out = Path(args.out)
    manifest = out / "esc10.csv"
    write_manifest(manifest, from_esc(args.data))
    models = [m.replace("-resnet18", "-resnet-tiny") for m in args.models] if args.tiny else args.models
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for model in models:
        for fold in args.folds:
            key = f"{model}/fold{fold}"
            if key in results:  # a finished run is kept: the benchmark resumes where it stopped
                continue
            cfg = TrainConfig(model=model, train_manifest=str(manifest),
                              val_fold=fold % 5 + 1, exclude_folds=[fold],
                              out_dir=str(out / model / f"fold{fold}"), epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr, early_stop=args.early_stop,
                              lr_patience=min(7, args.early_stop - 1), threads=args.threads,
                              frontend_lr_scale=args.frontend_lr_scale,
                              train_snr_db=args.train_snr, tensorboard=False,
                              cache_audio=True)  # 400 clips: decode each once
            summary = train(cfg, resume=(Path(cfg.out_dir) / "last.pt").exists(),
                            progress=False)
            clean = evaluate(summary["best"], str(manifest), folds=[fold], progress=False)
            # (the test fold was held out of training and of every choice made in it)
            noisy = evaluate(summary["best"], str(manifest), folds=[fold], snr_db=args.snr,
                             progress=False)
            results[key] = {"epochs": summary["epochs"], "train_snr": args.train_snr,
                            "clean": clean["top1"],
                            "noisy": noisy["top1"], "mAP": clean["mAP"], "AUC": clean["AUC"]}
            results_path.write_text(json.dumps(results, indent=2))
            print(f"{key}: {summary['epochs']} epochs, accuracy {clean['top1']:.3f} clean, "
                  f"{noisy['top1']:.3f} at {args.snr:g} dB", flush=True)

    print_table(results, models, args)
    return 0


def cross_validate_recipe(args) -> int:
    """Train the recipe once per test fold; report ESC-10 clip accuracy (12-way argmax on the
    ESC-10 clips), speech and background clip accuracy, and the window recall of the right
    ESC-10 event at the threshold calibrated on the validation fold."""
    out = Path(args.out)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for fold in args.folds:
        key = f"fold{fold}"
        if key in results:
            continue
        val = fold % 5 + 1
        cfg = TrainConfig.from_yaml(args.recipe, {
            **parse_overrides(args.set), "val_fold": val, "exclude_folds": [fold],
            "out_dir": str(out / key), "tensorboard": False, "threads": args.threads})
        # a fold that stopped goes on from its last checkpoint, a new one starts afresh
        summary = train(cfg, resume=(out / key / "last.pt").exists(), progress=False)
        items = read_manifest(cfg.train_manifest)
        clips = lambda f: [(load_audio(i.path), i.label) for i in select(items, folds=[f])]  # noqa: E731
        classifier = Classifier(summary["best"], device="cpu")
        val_clips = clips(val)  # decoded once: the threshold and the decisions below
        point = calibrate.event_threshold(classifier, val_clips, 2.0, 0.5)
        threshold = point["event_threshold"]
        labels = classifier.labels
        esc = [i for i, name in enumerate(labels) if name not in (SPEECH, BACKGROUND)]

        def scored(wave):  # (the node's 2 s windows (W, C), the whole clip (C,))
            return (calibrate.window_probabilities(classifier, wave, 2.0, 0.5),
                    classifier.probabilities(torch.from_numpy(wave)[None])[0])

        correct, windows_right, windows = {}, 0, 0
        for wave, label in clips(fold):
            probs, whole = scored(wave)
            group = label if label in (SPEECH, BACKGROUND) else "esc10"
            correct.setdefault(group, []).append(labels[int(whole.argmax())] == label)
            if group == "esc10":
                # the same clip decided by the mean of the node's 2 s windows, and the
                # ESC-10 protocol's 10-way decision (speech and background not candidates)
                correct.setdefault("esc10 window-mean", []).append(
                    labels[int(probs.mean(0).argmax())] == label)
                correct.setdefault("esc10 10-way", []).append(
                    labels[esc[int(whole[esc].argmax())]] == label)
                windows += len(probs)
                windows_right += sum(label in [labels[i] for i, _ in
                                               reported(p, labels, threshold, 3)]
                                     for p in probs)
        # which clip decision to report is chosen here, on the validation fold
        val_whole, val_mean = [], []
        for wave, label in val_clips:
            if label in (SPEECH, BACKGROUND):
                continue
            probs, whole = scored(wave)
            val_whole.append(labels[int(whole.argmax())] == label)
            val_mean.append(labels[int(probs.mean(0).argmax())] == label)
        results[key] = {"epochs": summary["epochs"], "threshold": threshold,
                        "validation accuracy": summary["best_val_accuracy"],
                        "validation window recall": point["event_window_recall"],
                        "validation esc10 clip accuracy": float(np.mean(val_whole)),
                        "validation esc10 window-mean accuracy": float(np.mean(val_mean)),
                        **{(g if " " in g else f"{g} clip accuracy"): float(sum(c) / len(c))
                           for g, c in correct.items()},
                        "esc10 window recall": windows_right / max(windows, 1),
                        "val false per min": point["false_per_min"]}
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=2))
        print(f"{key}: {results[key]}", flush=True)
    keys = ["esc10 clip accuracy", "esc10 window-mean", "esc10 10-way", "esc10 window recall",
            "speech clip accuracy", "background clip accuracy", "threshold",
            "validation accuracy", "validation window recall",
            "validation esc10 clip accuracy", "validation esc10 window-mean accuracy"]
    print("\n| figure | " + " | ".join(f"fold {f}" for f in args.folds) + " | mean |")
    print("|---|" + "---|" * (len(args.folds) + 1))
    for k in keys:
        values = [results[f"fold{f}"].get(k, np.nan) for f in args.folds
                  if f"fold{f}" in results]
        print(f"| {k} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {np.mean(values):.3f} |")
    return 0


def print_table(results: dict, models: list[str], args) -> None:
    trained = "clean" if args.train_snr is None else f"at {args.train_snr:g} dB SNR"
    print(f"\nESC-10 {len(args.folds)}-fold accuracy (mean +- std over folds), trained {trained}, "
          f"tested clean / at {args.snr:g} dB SNR")
    print("| model | clean, per fold | clean | noisy | mAP | folds |\n|---|---|---|---|---|---|")
    for model in models:
        runs = [results[f"{model}/fold{f}"] for f in args.folds if f"{model}/fold{f}" in results]
        if not runs:
            continue
        clean, noisy = np.array([r["clean"] for r in runs]), np.array([r["noisy"] for r in runs])
        mean_map = np.mean([r["mAP"] for r in runs])
        per_fold = " / ".join(f"{c:.3f}" for c in clean)
        print(f"| {model} | {per_fold} | {clean.mean():.3f} +- {clean.std():.3f} | {noisy.mean():.3f} +- "
              f"{noisy.std():.3f} | {mean_map:.3f} | {len(runs)} |")


if __name__ == "__main__":
    sys.exit(main())
