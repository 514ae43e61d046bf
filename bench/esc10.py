"""ESC-10, official 5-fold cross-validation: the paper's ablation (Tables 6-7) on data we can
use. Trains each model on 4 folds, evaluates the best epoch on the 5th, clean and with white
noise at 5 dB SNR, and prints the mean accuracy per model.

    python bench/esc10.py --models degram-resnet18 spectrogram-resnet18 --epochs 100
    python bench/esc10.py --tiny            # the budget that fits a 2-core CPU
    python bench/esc10.py --tiny --train-snr 5 --out runs/bench_esc10_noisy   # noise training

Anchors: Piczak's CNN 80.5 %, human listeners 95.7 %.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from degram_core.data import from_esc, write_manifest
from degram_core.evaluate import evaluate
from degram_core.train import TrainConfig, train

PAPER_MODELS = ["spectrogram-resnet18", "sincgram-resnet18", "despectrogram-resnet18", "degram-resnet18"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    args = parser.parse_args()

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
            cfg = TrainConfig(model=model, train_manifest=str(manifest), val_fold=fold,
                              out_dir=str(out / model / f"fold{fold}"), epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr, early_stop=args.early_stop,
                              lr_patience=min(7, args.early_stop - 1), threads=args.threads,
                              frontend_lr_scale=args.frontend_lr_scale,
                              train_snr_db=args.train_snr, tensorboard=False)
            summary = train(cfg, resume=True, progress=False)
            clean = evaluate(summary["best"], str(manifest), folds=[fold], progress=False)
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
