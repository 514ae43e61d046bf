"""audio_common's message formats, decoded (PCM and MP3) to frames of every channel and
encoded (PCM S16LE). No ROS: the listener (listener.py) uses them for the nodes.

Decoding keeps the channels apart, (channels, samples); `downmix` is the one place where they
become the mono audio the models hear. What happens after (resampling, ring buffer, due
windows, stamps) is stream.py's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import Refused, check_channels, check_sample_rate

# sample_format strings of audio_common's AudioInfo -> numpy dtypes (little-endian first)
FORMATS = {
    "S16LE": np.dtype("<i2"), "S16BE": np.dtype(">i2"),
    "S32LE": np.dtype("<i4"), "S32BE": np.dtype(">i4"),
    "F32LE": np.dtype("<f4"), "F32BE": np.dtype(">f4"),
    "U8": np.dtype("u1"), "S8": np.dtype("i1"),
}


class BadAudio(ValueError):
    """A message that cannot be turned into audio; `reason` names the counter it moves."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class AudioFormat:
    sample_rate: int = 16000
    channels: int = 1
    sample_format: str = "S16LE"

    def check(self) -> None:
        if self.sample_format.upper() not in FORMATS:
            raise BadAudio("unsupported_format", f"cannot decode sample_format "
                           f"{self.sample_format!r}; supported: {sorted(FORMATS)}")
        try:
            check_sample_rate(self.sample_rate)
            check_channels(self.channels)
        except Refused as error:
            raise BadAudio("unsupported_format", str(error)) from None


def downmix(frames: np.ndarray) -> np.ndarray:
    """(channels, samples) -> (samples,) float32: the channels averaged, what a model hears."""
    return frames[0] if frames.shape[0] == 1 else frames.mean(axis=0, dtype=np.float32)


def decode(data: bytes, fmt: AudioFormat, max_seconds: float) -> np.ndarray:
    """PCM bytes -> float32 frames in [-1, 1], (channels, samples). Raises BadAudio with the
    reason."""
    fmt.check()
    dtype = FORMATS[fmt.sample_format.upper()]
    frame = dtype.itemsize * fmt.channels
    if len(data) == 0:
        raise BadAudio("empty", "message holds no samples")
    if len(data) % frame:
        raise BadAudio("odd_length", f"{len(data)} bytes is not a whole number of "
                       f"{frame}-byte frames ({fmt.sample_format}, {fmt.channels} channel(s))")
    if len(data) / frame > max_seconds * fmt.sample_rate:
        raise BadAudio("too_long", f"{len(data) / frame / fmt.sample_rate:.1f} s in one message "
                       f"(limit {max_seconds:g} s, parameter max_message_s)")
    samples = np.frombuffer(data, dtype=dtype).reshape(-1, fmt.channels)
    if dtype.kind == "f":
        if not np.isfinite(samples).all():
            raise BadAudio("not_finite", "float samples hold NaN or infinity")
        # Full scale is +-1 and a sound card clips beyond it; so do we, as values near
        # float32's maximum (3e38) overflow the model's sums to NaN.
        audio = np.clip(samples, -1.0, 1.0).astype(np.float32)
    elif dtype.kind == "u":  # unsigned 8-bit PCM is centred on 128
        audio = (samples.astype(np.float32) - 128.0) / 128.0
    else:
        audio = samples.astype(np.float32) / float(np.iinfo(dtype).max + 1)
    return np.ascontiguousarray(audio.T)


# AudioInfo.coding_format values: audio_capture's `format` parameter, "wave" or "mp3" (empty
# from publishers that predate the field means PCM).
PCM_CODINGS = ("", "wave", "wav", "pcm")
MP3_CODINGS = ("mp3",)

# LAME (lamemp3enc, as audio_capture encodes) pads the start of a stream with 576 samples and an
# MP3 decoder adds 529 more: decoded sample n is the input's sample n - 1105 (measured on
# lamemp3enc's output at 16 kHz, test_audio_stream.py).
MP3_DELAY = 576 + 529


def check_coding(coding_format: str) -> str:
    """'pcm' or 'mp3' for an AudioInfo.coding_format; BadAudio for anything else."""
    coding = coding_format.strip().lower()
    if coding in PCM_CODINGS:
        return "pcm"
    if coding in MP3_CODINGS:
        return "mp3"
    raise BadAudio("unsupported_coding", f"cannot decode coding_format {coding_format!r} "
                   f"(wave and mp3 only): launch audio_capture with format:=wave")


class Mp3Stream:
    """MP3 bytes, as they arrive message by message, to float32 frames with stamps.

    audio_capture publishes whatever lamemp3enc hands its appsink (one frame per message here,
    but frames split across messages parse as well: FFmpeg's parser keeps the partial frame).
    Stamps come from the first message and the count of decoded samples, the same timeline
    a PCM stream gets: the first message's stamp is the capture time of its first sample, and
    the coder's delay (MP3_DELAY) is cut from the start so that decoded sample n is the
    captured sample n.
    """

    def __init__(self, delay: int = MP3_DELAY):
        try:
            import av
        except ImportError:
            raise BadAudio("unsupported_coding", "decoding mp3 needs PyAV (pip install av); "
                           "or launch audio_capture with format:=wave") from None
        self.av = av
        self.codec = av.CodecContext.create("mp3", "r")
        self.to_cut = delay
        self.start_ns: int | None = None
        self.rate: int | None = None
        self.decoded = 0  # samples handed out since start_ns
        self.bad_frames = 0  # frames the decoder refused, in messages that also held good ones

    def decode(self, data: bytes, stamp_ns: int, max_seconds: float) -> tuple[np.ndarray, int, int]:
        """(float32 frames (channels, samples), their rate, stamp of the first sample); there
        may be no samples while the decoder fills up. Raises BadAudio with the reason."""
        if not data:
            raise BadAudio("empty", "message holds no bytes")
        if self.start_ns is None:
            self.start_ns = stamp_ns
        pieces, failure = [], None
        try:
            packets = self.codec.parse(data)
        except self.av.error.FFmpegError as error:
            raise BadAudio("undecodable", f"mp3 parser: {error}") from None
        for packet in packets:
            # A bad frame costs that frame only: the good ones of the same message still count.
            try:
                frames = self.codec.decode(packet)
            except self.av.error.FFmpegError as error:
                self.bad_frames += 1
                failure = error
                continue
            for frame in frames:
                if self.rate is None:
                    self.rate = frame.sample_rate
                elif frame.sample_rate != self.rate:
                    raise BadAudio("undecodable", f"mp3 rate changed from {self.rate} to "
                                   f"{frame.sample_rate} Hz within a stream")
                pieces.append(self.frames(frame))
        if failure is not None and not pieces:
            raise BadAudio("undecodable", f"mp3 decoder: {failure}")
        audio = np.concatenate(pieces, axis=1) if pieces else np.zeros((1, 0), np.float32)
        cut = min(self.to_cut, audio.shape[1])
        audio, self.to_cut = audio[:, cut:], self.to_cut - cut
        if self.rate and audio.shape[1] > max_seconds * self.rate:
            raise BadAudio("too_long", f"{audio.shape[1] / self.rate:.1f} s in one message "
                           f"(limit {max_seconds:g} s, parameter max_message_s)")
        stamp = self.start_ns + round(self.decoded * 1e9 / self.rate) if self.rate else self.start_ns
        self.decoded += audio.shape[1]
        return audio, self.rate or 0, stamp

    @staticmethod
    def frames(frame) -> np.ndarray:
        """One decoded PyAV frame -> float32 (channels, samples)."""
        samples = frame.to_ndarray()
        channels = len(frame.layout.channels)
        # planar: (channels, n); packed: (1, n * channels) interleaved
        samples = samples if frame.format.is_planar else samples.reshape(-1, channels).T
        if samples.dtype.kind == "f":
            audio = samples.astype(np.float32)
        else:
            audio = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
        return audio


def encode_s16le(audio: np.ndarray) -> bytes:
    """Mono float audio in [-1, 1] -> PCM S16LE bytes (what the microphone node publishes)."""
    return np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
