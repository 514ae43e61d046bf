"""degram info CHECKPOINT: what a checkpoint holds."""
from __future__ import annotations

import json

HELP = "describe a checkpoint: model, labels, sample rate, size, training metadata"


def configure(parser):
    parser.add_argument("checkpoint", help="a degram checkpoint (.pt)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    from ..runtime.checkpoint import load_checkpoint, load_model
    from ..runtime.operating_points import stored

    data = load_checkpoint(args.checkpoint)
    model = load_model(args.checkpoint)
    info = {
        "checkpoint": str(args.checkpoint),
        "model": data["model"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "num_classes": data["num_classes"],
        "labels": data["labels"],
        "sample_rate": data["sample_rate"],
        "config": data["config"],
        "meta": data["meta"],
    }
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"{info['checkpoint']}: {info['model']}, {info['parameters'] / 1e6:.2f} M parameters, "
          f"{info['sample_rate']} Hz")
    print(f"labels ({info['num_classes']}): {', '.join(info['labels'])}")
    points = stored(info["meta"])
    print("operating points (chosen on validation data; the nodes use them unless a parameter "
          "overrides): " + (", ".join(f"{k} {v:.3f}" for k, v in points.items()) or "none"))
    for key, value in info["meta"].items():
        print(f"{key}: {value}")
    return 0
