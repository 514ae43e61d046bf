"""degram info MODEL: what a checkpoint (or a `degram export` ONNX file) holds."""
from __future__ import annotations

import json
from pathlib import Path

HELP = "describe a model file: model, labels, sample rate, size, operating points, training metadata"


def configure(parser):
    parser.add_argument("checkpoint", help="a degram checkpoint (.pt) or ONNX export (.onnx)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    info = onnx_info(args.checkpoint) if Path(args.checkpoint).suffix == ".onnx" else (
        checkpoint_info(args.checkpoint))
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    from ..runtime.operating_points import stored

    size = (f"{info['parameters'] / 1e6:.2f} M parameters" if "parameters" in info
            else "an ONNX model (degram export)")
    print(f"{info['checkpoint']}: {info['model']}, {size}, {info['sample_rate']} Hz")
    print(f"labels ({info['num_classes']}): {', '.join(info['labels'])}")
    points = stored(info["meta"])
    print("operating points (chosen on validation data; the nodes use them unless a parameter "
          "overrides): " + (", ".join(f"{k} {v:.3f}" for k, v in points.items()) or "none"))
    for key, value in info["meta"].items():
        if key == "teach_stats":  # hundreds of numbers: say what they are, not what they hold
            value = f"mean and spread of {len(value['mean'])} parts (degram calibrate --teach)"
        print(f"{key}: {value}")
    return 0


def checkpoint_info(path: str) -> dict:
    from ..runtime.checkpoint import load_checkpoint, load_model

    data = load_checkpoint(path)
    model = load_model(path)
    return {"checkpoint": str(path), "format": "checkpoint", "model": data["model"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "num_classes": data["num_classes"], "labels": data["labels"],
            "sample_rate": data["sample_rate"], "config": data["config"], "meta": data["meta"]}


def onnx_info(path: str) -> dict:
    """An export keeps labels, rate and operating points, not the training metadata."""
    from ..runtime.onnx import OnnxModel

    model = OnnxModel(path, device="cpu", threads=1)
    meta = {k: v for k, v in model.meta.items()
            if k not in ("labels", "sample_rate", "model", "num_classes")}
    return {"checkpoint": str(path), "format": "onnx", "model": model.name,
            "num_classes": model.num_classes, "labels": model.labels,
            "sample_rate": model.sample_rate, "meta": meta}
