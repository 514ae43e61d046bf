"""A trained model as one self-describing file for deployment: ONNX (onnxruntime, TensorRT on a
Jetson) or TorchScript (libtorch, no Python model code).

Both take `waveform` (B, N) float32 at the model's rate, B and N dynamic, and give `logits`
(B, C) and `embedding` (B, D) (the pooled embedding a speaker-ID node enrolls with). Labels,
sample rate, model name and degram version travel inside the file (ONNX metadata_props,
TorchScript _extra_files), so no checkpoint is needed beside it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .files import atomic_write
from .operating_points import EVENT_THRESHOLDS, POINTS
from ..nn.frontend import STFTMagnitude
from ..nn.models import AudioClassifier

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".ts"}
INPUT = "waveform"
OUTPUTS = ("logits", "embedding")
OPSET = 18  # the exporter's default


def metadata(model: AudioClassifier, labels: list[str] | None = None) -> dict[str, str]:
    """What a deployed file needs to be used alone; string to string, as ONNX stores it."""
    from .. import __version__

    labels = list(labels or model.labels)
    meta = model.meta
    # The operating points travel with the deployed file, as they do with the checkpoint.
    points = {key: str(float(meta[key])) for key in POINTS if key in meta}
    return {"labels": json.dumps(labels), "sample_rate": str(model.sample_rate),
            "model": model.name, "num_classes": str(model.num_classes),
            "embedding_dim": str(model.embedding_dim), "degram_version": __version__,
            "input": INPUT, "outputs": ",".join(OUTPUTS), **points,
            **({EVENT_THRESHOLDS: json.dumps(meta[EVENT_THRESHOLDS])}
               if meta.get(EVENT_THRESHOLDS) else {}),
            **({"speaker_embedding": "true"} if meta.get("speaker_embedding") else {})}


def parse_metadata(props: dict[str, str]) -> dict:
    """metadata() read back: labels a list, rates and counts ints. KeyError if not degram's."""
    return {"labels": json.loads(props["labels"]), "sample_rate": int(props["sample_rate"]),
            "model": props["model"], "num_classes": int(props["num_classes"]),
            "embedding_dim": int(props.get("embedding_dim", 0)),
            "degram_version": props.get("degram_version", ""),
            **{key: float(props[key]) for key in POINTS if key in props},
            **({EVENT_THRESHOLDS: json.loads(props[EVENT_THRESHOLDS])}
               if EVENT_THRESHOLDS in props else {}),
            "speaker_embedding": props.get("speaker_embedding") == "true"}


def _pad_symbolic(wave: torch.Tensor, n_fft: int) -> torch.Tensor:
    """STFTMagnitude's short-clip padding without a Python branch, for torch.export.

    A branch on N would be decided once for the example input; sym_max stays a graph op, so
    the exported model pads clips shorter than n_fft exactly as the eager model does and
    leaves longer ones untouched (their padding is sliced off again).
    """
    length = torch.sym_max(wave.shape[-1], n_fft)
    return F.pad(wave, (0, n_fft))[:, :length]  # (B, max(N, n_fft))


def _pad_branch(wave: torch.Tensor, n_fft: int) -> torch.Tensor:
    """The same for torch.jit.trace, scripted first: a scripted function keeps its `if`
    inside a trace (scripted when used, not at import: scripting costs time and warns)."""
    if wave.shape[-1] < n_fft:
        wave = F.pad(wave, (0, n_fft - wave.shape[-1]))
    return wave


class ConvSTFTMagnitude(nn.Module):
    """STFTMagnitude as one strided Conv1d with the windowed DFT basis: (B, N) -> (B, T, F).

    The same frames as torch.stft(center=True, zero padding), equal to float rounding, but no
    STFT or complex operator in the graph: TensorRT does not parse ONNX's STFT, and
    onnxruntime's CPU STFT kernel alone took longer than torch's whole forward pass of the
    tiny model (bench/backends.py). A convolution runs on every accelerator's fastest path.
    """

    def __init__(self, stft: STFTMagnitude):
        super().__init__()
        n_fft, self.hop_length = stft.n_fft, stft.hop_length
        self.n_fft = n_fft
        window = stft.window.double()
        left = (n_fft - len(window)) // 2  # torch.stft centres a shorter window in n_fft
        window = F.pad(window, (left, n_fft - len(window) - left))
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]  # (F, 1)
        n = torch.arange(n_fft, dtype=torch.float64)[None, :]  # (1, n_fft)
        angle = 2 * torch.pi * k * n / n_fft
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * window  # (2F, n_fft)
        self.register_buffer("basis", basis.float().unsqueeze(1), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = F.conv1d(wave.unsqueeze(1), self.basis, stride=self.hop_length,
                     padding=self.n_fft // 2)  # (B, 2F, T)
        real, imag = x.chunk(2, dim=1)  # (B, F, T) each
        return torch.sqrt(real * real + imag * imag).transpose(1, 2)  # (B, T, F)


class Deployed(nn.Module):
    """waveform (B, N) -> (logits (B, C), embedding (B, D)), SpecAugment and dropout off."""

    def __init__(self, model: AudioClassifier, pad=_pad_symbolic):
        super().__init__()
        self.model = model.eval()
        self.n_fft = model.cfg.n_fft
        self.pad = pad

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # After padding the front end's own `if N < n_fft` is false for every input.
        embedding = self.model.embed(self.pad(waveform, self.n_fft))  # (B, D)
        return self.model.fc(self.model.dropout(embedding)), embedding  # (B, C), (B, D)


def _example(model: AudioClassifier) -> torch.Tensor:
    # Batch 2, not 1: torch.export specialises a dimension whose example size is 1.
    return torch.randn(2, model.sample_rate, generator=torch.Generator().manual_seed(0))


@contextlib.contextmanager
def _quiet():
    """The exporters warn and log about things that do not concern a user (missing
    torchvision, deprecations, tracer notes); a node must start with its own lines only."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo",
                                                    "torch.fx", "onnxscript")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _cpu_copy(model: AudioClassifier) -> AudioClassifier:
    """Export from float32 contiguous CPU weights without touching the caller's model."""
    import copy

    copied = copy.deepcopy(model).float().cpu().to(memory_format=torch.contiguous_format)
    copied.frontend.stft = ConvSTFTMagnitude(copied.frontend.stft)
    return copied.eval().requires_grad_(False)  # a deployed model's outputs need no graph


def onnx_bytes(model: AudioClassifier, labels: list[str] | None = None) -> bytes:
    """The model as an ONNX file in memory (torch.export + onnxscript)."""
    module = Deployed(_cpu_copy(model))
    # Dim.DYNAMIC, not named Dims: the backbone's strides give guards ("frames after /32 !=
    # 1") that named Dims turn into errors; ONNX ops broadcast, so the graph holds for any N.
    dynamic = torch.export.Dim.DYNAMIC
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(module, (_example(model),), None, dynamo=True,
                                    input_names=[INPUT], output_names=list(OUTPUTS),
                                    dynamic_shapes={"waveform": {0: dynamic, 1: dynamic}},
                                    opset_version=OPSET, verbose=False)
    _name_dynamic_axes(program.model.graph)
    program.model.metadata_props.update(metadata(model, labels))
    return program.model_proto.SerializeToString()


def _name_dynamic_axes(graph) -> None:
    """The exporter calls them s16, s39; TensorRT profiles and users read `batch`, `samples`."""
    from onnxscript import ir

    batch, samples = graph.inputs[0].shape
    names = {str(batch): "batch", str(samples): "samples"}
    for value in [*graph.inputs, *graph.outputs]:
        value.shape = ir.Shape([names.get(str(dim), dim) if isinstance(dim, ir.SymbolicDim)
                                else dim for dim in value.shape])


def torchscript_module(model: AudioClassifier) -> torch.jit.ScriptModule:
    """torch.jit.trace: deprecated in favour of torch.export but still the way to a file that
    libtorch (C++) loads; the model has no data-dependent control flow except the short-clip
    padding, which is scripted (see _pad_branch)."""
    with _quiet(), torch.no_grad():
        module = Deployed(_cpu_copy(model), pad=torch.jit.script(_pad_branch))
        return torch.jit.trace(module, (_example(model),), check_trace=False)


def export_model(model: AudioClassifier, path: str | Path, fmt: str = "onnx",
                 labels: list[str] | None = None) -> Path:
    """Write `model` to `path` in `fmt` (one of FORMATS)."""
    path = Path(path)
    if fmt == "onnx":
        data = onnx_bytes(model, labels)
        atomic_write(path, lambda f: f.write(data))
    elif fmt == "torchscript":
        traced = torchscript_module(model)
        extra = metadata(model, labels)
        with _quiet():  # torch.jit.save warns that it is deprecated: see torchscript_module
            atomic_write(path, lambda f: torch.jit.save(traced, f, _extra_files=extra))
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose from {list(FORMATS)}")
    return path


def load_torchscript(path: str | Path) -> tuple[torch.jit.ScriptModule, dict]:
    """A TorchScript export and its parsed metadata."""
    extra = {key: "" for key in ("labels", "sample_rate", "model", "num_classes",
                                 "embedding_dim", "degram_version")}
    with _quiet():
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    props = {key: value.decode() if isinstance(value, bytes) else value
             for key, value in extra.items()}
    return module, parse_metadata(props)
