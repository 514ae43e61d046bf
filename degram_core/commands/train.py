"""degram train CONFIG.yaml: train a model as the paper does (Sec. 3.3)."""
from __future__ import annotations

import yaml

HELP = "train a model from a YAML config (config/train_*.yaml); resumable, torchrun-ready"


def configure(parser):
    parser.add_argument("config", help="YAML file of TrainConfig fields")
    parser.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config fields, e.g. --set epochs=5 val_fold=2")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        out[key] = yaml.safe_load(value)  # numbers, booleans, null and lists as in YAML
    return out


def run(args) -> int:
    from ..training import TrainConfig, train

    cfg = TrainConfig.from_yaml(args.config, parse_overrides(args.set))
    summary = train(cfg, resume=args.resume, progress=not args.quiet)
    figure = ("EER", summary["best_val_eer"]) if "best_val_eer" in summary else (
        "accuracy", summary["best_val_accuracy"])
    print(f"done after {summary['epochs']} epochs: best validation {figure[0]} {figure[1]:.4f}; "
          f"{summary['best']}")
    for path, why in summary["skipped"].items():
        print(f"skipped {path}: {why}")
    return 0
