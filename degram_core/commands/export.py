"""degram export CHECKPOINT --format onnx|torchscript [-o OUT]: a deployable model file."""
from __future__ import annotations

import time
from pathlib import Path

HELP = "export a checkpoint to ONNX (onnxruntime, TensorRT) or TorchScript, labels inside"


def configure(parser):
    parser.add_argument("checkpoint", help="a degram checkpoint (.pt)")
    parser.add_argument("--format", choices=["onnx", "torchscript"], default="onnx",
                        help="onnx (default) or torchscript (torch.jit.trace)")
    parser.add_argument("-o", "--output", default=None,
                        help="file to write; default: the checkpoint's name with .onnx or .ts")


def run(args) -> int:
    from ..runtime.checkpoint import load_model
    from ..runtime.export import SUFFIXES, export_model

    model = load_model(args.checkpoint)
    output = Path(args.output or Path(args.checkpoint).with_suffix(SUFFIXES[args.format]))
    started = time.perf_counter()
    export_model(model, output, args.format)
    print(f"{output}: {args.format}, {model.name}, {len(model.labels)} labels, "
          f"{model.sample_rate} Hz, input waveform (batch, samples), outputs logits and "
          f"embedding ({output.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s)")
    return 0
