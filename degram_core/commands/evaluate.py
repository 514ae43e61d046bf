"""degram evaluate CHECKPOINT MANIFEST: the paper's metrics on whole clips."""
from __future__ import annotations

import json

HELP = "evaluate a checkpoint on a manifest: mAP, AUC, d-prime, top-1, top-5, confusion"


def configure(parser):
    parser.add_argument("checkpoint")
    parser.add_argument("manifest", help="CSV manifest (degram prepare makes them)")
    parser.add_argument("--split", default=None, help="only rows of this split (e.g. test)")
    parser.add_argument("--fold", type=int, nargs="+", default=None, help="only rows of these folds")
    parser.add_argument("--snr", type=float, default=None, metavar="DB",
                        help="add white noise at this SNR before classifying")
    parser.add_argument("--json", action="store_true", help="print everything as JSON")
    parser.add_argument("--device", default="auto")


def run(args) -> int:
    from ..scoring.evaluate import evaluate

    result = evaluate(args.checkpoint, args.manifest, args.split, args.fold, args.snr,
                      args.device, progress=not args.json)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    noise = f" at {args.snr:g} dB SNR" if args.snr is not None else ""
    print(f"{result['clips']} clips{noise}: mAP {result['mAP']:.3f}  AUC {result['AUC']:.3f}  "
          f"d' {result['d_prime']:.3f}  top-1 {result['top1']:.3f}  top-5 {result['top5']:.3f}")
    width = max(len(label) for label in result["per_class"])
    print(f"{'class':<{width}}  recall  precision  AP     support")
    for label, row in result["per_class"].items():
        ap = f"{row['AP']:.3f}" if row["AP"] is not None else "  -  "
        print(f"{label:<{width}}  {row['recall']:.3f}   {row['precision']:.3f}      {ap}  {row['support']}")
    print("confusion (rows: true, columns: predicted):")
    for label, counts in zip(result["per_class"], result["confusion"]):
        print(f"{label:<{width}}  " + " ".join(f"{c:3d}" for c in counts))
    for path, why in result["skipped"].items():
        print(f"skipped {path}: {why}")
    return 0
