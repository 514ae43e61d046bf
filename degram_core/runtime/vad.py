"""Voice activity: Silero VAD, from the weights inside the `silero-vad` wheel (MIT), run in
onnxruntime without torch or torchaudio.

The model reads 16 kHz audio in frames of 512 samples (32 ms), each preceded by the last 64
samples of the frame before, and carries a recurrent state from frame to frame; it gives the
probability that the frame holds speech. `VoiceActivity.frames` scores a whole window from a
fresh state, so a window's answer never depends on which windows came before it (the nodes
skip windows when behind).
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE

FRAME = 512  # samples at 16 kHz: 32 ms
CONTEXT = 64  # samples of the previous frame the model sees first
SPEECH_PROBABILITY = 0.5  # a frame above this is speech (Silero's own default)


class VADError(ValueError):
    """The VAD model cannot be used; the message names the file."""


def default_model_path() -> Path:
    """silero_vad.onnx inside the installed silero-vad wheel."""
    try:
        return Path(str(importlib.resources.files("silero_vad") / "data" / "silero_vad.onnx"))
    except ModuleNotFoundError:
        raise VADError("silero_vad.onnx: the silero-vad package is not installed "
                       "(pip install silero-vad --no-deps)") from None


class VoiceActivity:
    """`VoiceActivity().frames(wave)` -> speech probability of each 32 ms frame."""

    def __init__(self, path: str | Path | None = None, threads: int = 1):
        import onnxruntime

        self.path = Path(path) if path else default_model_path()
        if not self.path.is_file():
            raise VADError(f"{self.path}: no such VAD model file")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime's own exception types
            raise VADError(f"{self.path}: not a readable VAD model "
                           f"({type(error).__name__}: {error})") from None
        inputs = {i.name for i in self.session.get_inputs()}
        if inputs != {"input", "state", "sr"}:
            raise VADError(f"{self.path}: not a Silero VAD v5+ model (inputs {sorted(inputs)})")
        self.sample_rate = SAMPLE_RATE

    def frames(self, wave: np.ndarray) -> np.ndarray:
        """(N,) float32 at 16 kHz -> (N // 512,) speech probabilities; a trailing partial
        frame is not scored."""
        wave = np.asarray(wave, dtype=np.float32)
        count = len(wave) // FRAME
        state = np.zeros((2, 1, 128), dtype=np.float32)
        context = np.zeros(CONTEXT, dtype=np.float32)
        rate = np.array(SAMPLE_RATE, dtype=np.int64)
        out = np.empty(count, dtype=np.float32)
        for i in range(count):
            frame = wave[i * FRAME:(i + 1) * FRAME]
            feed = np.concatenate([context, frame])[None]  # (1, 576)
            prob, state = self.session.run(None, {"input": feed, "state": state, "sr": rate})
            out[i] = prob.item()
            context = frame[-CONTEXT:]
        return out

    def speech_fraction(self, wave: np.ndarray, threshold: float = SPEECH_PROBABILITY
                        ) -> tuple[float, float]:
        """(share of frames above `threshold`, highest frame probability) of one window."""
        probs = self.frames(wave)
        if probs.size == 0:
            return 0.0, 0.0
        return float(np.mean(probs > threshold)), float(probs.max())
