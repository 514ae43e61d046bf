"""onnxruntime behind the Classifier: execution providers for a device setting, and a session
that answers as an AudioClassifier does."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checkpoint import CheckpointError, check_file


def onnx_providers(device: str | torch.device = "auto") -> list:
    """onnxruntime execution providers for a `device` setting, best first.

    auto: TensorRT then CUDA when this onnxruntime build has them (onnxruntime-gpu, Jetson
    wheels), always CPU last, so nodes a provider cannot run fall back instead of failing.
    """
    import onnxruntime

    available = onnxruntime.get_available_providers()
    device = str(device)
    if device == "cpu":
        return ["CPUExecutionProvider"]
    index = int(device.partition(":")[2] or 0) if device.startswith("cuda") else 0
    if device != "auto" and not device.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {device!r}")
    if device.startswith("cuda") and "CUDAExecutionProvider" not in available:
        raise ValueError(f"device {device!r} asked for, but this onnxruntime has no CUDA "
                         f"provider (it has {available}); install onnxruntime-gpu")
    providers = []
    if "TensorrtExecutionProvider" in available:
        # Engines take minutes to build on a Jetson: cache them across starts. One profile
        # covers 32 ms to 10 s windows at batch 1-8 (the nodes run batch 1).
        cache = Path.home() / ".cache" / "degram" / "tensorrt"
        providers.append(("TensorrtExecutionProvider", {
            "device_id": index, "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
            "trt_profile_min_shapes": "waveform:1x512",
            "trt_profile_opt_shapes": "waveform:1x16000",
            "trt_profile_max_shapes": "waveform:8x160000"}))
    if "CUDAExecutionProvider" in available:
        providers.append(("CUDAExecutionProvider", {"device_id": index}))
    return providers + ["CPUExecutionProvider"]


class OnnxModel:
    """An onnxruntime session behind the part of AudioClassifier's interface that Classifier
    and the nodes use: name, labels, sample_rate, num_classes, model(wave), embed(wave)."""

    def __init__(self, source: str | Path | bytes, device: str | torch.device = "auto",
                 name: str | None = None, threads: int | None = None):
        import onnxruntime

        from .export import OUTPUTS, parse_metadata

        shown = name or str(source)  # the file named in errors
        if isinstance(source, (str, Path)):
            check_file(source, "model")
        options = onnxruntime.SessionOptions()
        # None: as many as torch would use, its default being one per core.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        providers = onnx_providers(device)
        try:
            self.session = onnxruntime.InferenceSession(
                source if isinstance(source, bytes) else str(source), options, providers=providers)
        except Exception as error:  # onnxruntime's own exception types (InvalidProtobuf, Fail)
            raise CheckpointError(f"{shown}: not a readable ONNX model "
                                  f"({type(error).__name__}: {error})") from None
        try:
            self.meta = parse_metadata(self.session.get_modelmeta().custom_metadata_map)
        except (KeyError, ValueError) as error:
            raise CheckpointError(f"{shown}: not a degram export (bad or missing metadata: "
                                  f"{error}; make it with `degram export`)") from None
        outputs = [o.name for o in self.session.get_outputs()]
        if outputs != list(OUTPUTS):
            raise CheckpointError(f"{shown}: outputs {outputs}, expected {list(OUTPUTS)}")
        self.name, self.labels = self.meta["model"], self.meta["labels"]
        self.sample_rate, self.num_classes = self.meta["sample_rate"], self.meta["num_classes"]
        self.providers = self.session.get_providers()

    def run(self, wave: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(B, N) -> logits (B, C), embedding (B, D)."""
        feed = np.ascontiguousarray(wave.detach().cpu().numpy(), dtype=np.float32)
        logits, embedding = self.session.run(None, {"waveform": feed})
        return logits, embedding

    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(wave)[0])  # (B, C)

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(wave)[1])  # (B, D)

    def embed_and_logits(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, embedding = self.run(wave)
        return torch.from_numpy(embedding), torch.from_numpy(logits)  # (B, D), (B, C)
