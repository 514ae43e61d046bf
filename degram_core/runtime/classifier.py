"""Inference on files and on streams: any length, any rate, mono or multichannel."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .audio import AudioError, resample, to_mono
from ..nn.models import AudioClassifier
from .checkpoint import CheckpointError, load_model
from .onnx import OnnxModel
from .stream import WindowStream, full_windows, window_hop_samples, window_starts
from .embeddings import speaker_vectors

BACKENDS = ("torch", "onnxruntime")


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' is CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def ready_for_inference(model: AudioClassifier, device: torch.device) -> AudioClassifier:
    """Eval mode on `device`; on CPU, channels-last weights.

    At batch 1 most of ResNet's convolutions otherwise fall to a slow generic kernel:
    channels-last measured 1.4-1.8x faster on these 2-core machines (degram bench).
    """
    model = model.to(device).eval()
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    return model


@dataclass
class Prediction:
    top: list[tuple[str, float]]  # best first
    probs: np.ndarray  # (C,)

    @property
    def label(self) -> str:
        return self.top[0][0]


@dataclass
class WindowResult:
    start_s: float  # from the first sample fed
    end_s: float
    prediction: Prediction


def load_backend(checkpoint: str | Path | AudioClassifier, device: str, backend: str,
                 labels: list[str] | None, threads: int | None = None):
    """(model, device the input tensors go to) for a backend; see Classifier."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {list(BACKENDS)}")
    is_onnx = not isinstance(checkpoint, AudioClassifier) and Path(checkpoint).suffix == ".onnx"
    if backend == "torch":
        if is_onnx:
            raise CheckpointError(f"{checkpoint}: an ONNX model runs with backend "
                                  f"'onnxruntime', not 'torch'")
        torch_device = pick_device(device)
        model = checkpoint if isinstance(checkpoint, AudioClassifier) else load_model(checkpoint)
        return ready_for_inference(model, torch_device), torch_device
    if is_onnx:
        return OnnxModel(checkpoint, device, threads=threads), torch.device("cpu")
    from .export import onnx_bytes

    model = checkpoint if isinstance(checkpoint, AudioClassifier) else load_model(checkpoint)
    name = str(checkpoint) if not isinstance(checkpoint, AudioClassifier) else model.name
    # onnxruntime takes host arrays (it copies to the GPU itself): inputs stay on the CPU.
    return (OnnxModel(onnx_bytes(model, labels), device, name=name, threads=threads),
            torch.device("cpu"))


class ModelOutputError(ValueError):
    """The model produced NaN or infinity: a result that must not be reported. A ValueError,
    so the CLI reports it in one line, as it does a bad checkpoint."""


def finite_output(values: np.ndarray) -> np.ndarray:
    # Finite input can still overflow inside the model (weights that diverged in training,
    # samples far beyond full scale); NaN scores would otherwise pass as a result.
    if not np.isfinite(values).all():
        raise ModelOutputError("the model's output holds NaN or infinity")
    return values


class Classifier:
    """A loaded model with its labels: `Classifier("model.pt").predict(wave, 44100)`.

    backend "torch" runs the checkpoint in PyTorch; "onnxruntime" exports a .pt checkpoint to
    ONNX in memory at construction (a few seconds) or loads a `degram export` .onnx file, and
    runs it in onnxruntime (TensorRT or CUDA when available, else CPU). The public API is the
    same for both. `threads` sizes onnxruntime's session (None: torch's current count);
    torch's own count is process-wide, set with torch.set_num_threads.
    """

    def __init__(self, checkpoint: str | Path | AudioClassifier, device: str = "auto",
                 labels: list[str] | None = None, backend: str = "torch",
                 threads: int | None = None):
        self.backend = backend
        self.model, self.device = load_backend(checkpoint, device, backend, labels, threads)
        model = self.model
        self.labels = list(labels or model.labels)
        self.sample_rate = model.sample_rate
        self.meta = dict(model.meta)

    def prepare(self, waveform, sample_rate: int) -> np.ndarray:
        """Any (N,) or (N, C) array -> finite mono float32 at the model's rate, (N,)."""
        if isinstance(waveform, torch.Tensor):
            waveform = waveform.detach().cpu().numpy()
        wave = to_mono(np.asarray(waveform, dtype=np.float32))
        if wave.size == 0:
            raise AudioError("empty waveform")
        if not np.isfinite(wave).all():
            raise AudioError("waveform holds NaN or infinite samples")
        # Beyond full scale is clipped, as a sound card would (see codecs.decode).
        return resample(np.clip(wave, -1.0, 1.0), sample_rate, self.sample_rate)

    @torch.inference_mode()
    def probabilities(self, wave: torch.Tensor) -> np.ndarray:
        """(B, N) at the model's rate -> class probabilities (B, C)."""
        logits = self.model(wave.to(self.device, torch.float32))
        return finite_output(torch.softmax(logits, dim=-1).cpu().numpy())

    def ranked(self, probs: np.ndarray, top_k: int) -> Prediction:
        order = np.argsort(-probs, kind="stable")[:top_k]
        return Prediction([(self.labels[i], float(probs[i])) for i in order], probs)

    def predict(self, waveform, sample_rate: int, top_k: int = 5) -> Prediction:
        wave = self.prepare(waveform, sample_rate)
        return self.ranked(self.probabilities(torch.from_numpy(wave)[None])[0], top_k)

    @torch.inference_mode()
    def embed(self, waveform, sample_rate: int) -> np.ndarray:
        """The model's pooled embedding of a clip, (D,)."""
        wave = torch.from_numpy(self.prepare(waveform, sample_rate))[None].to(self.device)
        return finite_output(self.model.embed(wave)[0].cpu().numpy())

    @property
    def tnorm_scale(self) -> float | None:
        """For a speaker embedding that normalises its scores by its training speakers
        (verification.tnorm): the AAM head's scale, logits / scale being the cosines with them."""
        scale = self.meta.get("tnorm_scale")
        return float(scale) if scale else None

    @torch.inference_mode()
    def speaker_vector(self, waveform, sample_rate: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A clip's embedding (D,) and, for a model with a `tnorm_scale`, its cosines with the
        model's training speakers (C,), the cohort its scores are normalised by; else None."""
        wave = torch.from_numpy(self.prepare(waveform, sample_rate))[None].to(self.device)
        embedding, cohort = speaker_vectors(self.model.embed_and_logits, [wave], self.tnorm_scale)
        return finite_output(embedding[0]), (None if cohort is None else finite_output(cohort[0]))

    def predict_windows(self, waveform, sample_rate: int, window_s: float, hop_s: float,
                        top_k: int = 5) -> list[WindowResult]:
        """Every full window of a whole clip in one batched call (what `stream` yields)."""
        wave = self.prepare(waveform, sample_rate)
        window, hop = window_hop_samples(window_s, hop_s, self.sample_rate)
        batch = full_windows(wave, window, hop)  # (W, window)
        if not len(batch):
            return []
        probs = self.probabilities(torch.from_numpy(batch))
        return [WindowResult(s / self.sample_rate, (s + window) / self.sample_rate,
                             self.ranked(p, top_k))
                for s, p in zip(window_starts(len(wave), window, hop), probs)]

    def stream(self, window_s: float, hop_s: float, top_k: int = 5) -> StreamingClassifier:
        return StreamingClassifier(self, window_s, hop_s, top_k)


class StreamingClassifier:
    """Feed chunks of any size; get one result per full window, every hop.

    The windows are those of the nodes (stream.WindowStream, every window here, none skipped):
    chunks at another rate are resampled by one stateful soxr stream, so chunk boundaries
    leave no seams, and only one window and one hop of audio are held. Times count samples
    from the first one fed.
    """

    def __init__(self, classifier: Classifier, window_s: float, hop_s: float, top_k: int = 5):
        self.classifier, self.top_k = classifier, top_k
        self.rate = classifier.sample_rate
        self.window, self.hop = window_hop_samples(window_s, hop_s, self.rate)
        self.stream = WindowStream(self.rate, self.window, self.hop)
        self.input_rate: int | None = None
        self.fed = 0  # input samples since the start (or reset): their count stamps a chunk

    def feed(self, chunk, sample_rate: int) -> list[WindowResult]:
        chunk = to_mono(np.asarray(chunk, dtype=np.float32))
        if not np.isfinite(chunk).all():
            raise AudioError("chunk holds NaN or infinite samples")
        if self.input_rate is None:
            self.input_rate = sample_rate
        elif sample_rate != self.input_rate:
            raise AudioError(f"sample rate changed mid-stream ({self.input_rate} -> "
                             f"{sample_rate} Hz); call reset() first")
        stamp_ns = round(self.fed * 1e9 / sample_rate)
        self.fed += len(chunk)
        # clipped as Classifier.prepare does, so a stream gets predict_windows' answers
        windows = self.stream.feed(np.clip(chunk, -1.0, 1.0), sample_rate, stamp_ns)
        if not windows:
            return []
        probs = self.classifier.probabilities(torch.from_numpy(np.stack([w.audio for w in windows])))
        return [WindowResult(w.start / self.rate, (w.start + self.window) / self.rate,
                             self.classifier.ranked(p, self.top_k))
                for w, p in zip(windows, probs)]

    def reset(self) -> None:
        """Forget all audio and the input rate; times start from zero again."""
        self.stream.restart()
        self.input_rate, self.fed = None, 0
