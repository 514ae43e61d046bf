"""The listener: audio_common messages in, due windows out to a model, on a worker thread.
Plain Python; the ROS nodes (degram_ros/inference_node.py) wrap it in subscriptions,
parameters and diagnostics.

Ingest: an AudioInfo sets the format (rate, channels, sample format) and the coding (PCM, or MP3
decoded as it arrives, a new decoder when its stamps restart). Each message is decoded to
frames of every channel (`on_frames` sees them, e.g. a direction-of-arrival step), mixed down
in one place (codecs.downmix) and pushed into the streaming core (stream.WindowStream:
resampling, ring buffer, stamps, lost audio and restarts). A message that cannot be decoded is
counted by its reason and dropped; one of them never stops the others.

Work: one worker thread takes the newest due window and hands it to `handle(audio, stamp_ns)`;
when it falls behind it skips to the newest window and counts the ones it skipped, so no
backlog builds up. An exception in `handle` costs that window only.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .codecs import AudioFormat, BadAudio, Mp3Stream, check_coding, decode, downmix
from .stream import StreamClock, WindowStream, stamp_jump, window_hop_samples
from .throttle import Throttle

# Drop reasons that say the input as a whole cannot be decoded (not one malformed message):
# health() is ERROR with the reason until a message decodes again.
UNDECODABLE = {"unsupported_format", "unsupported_coding", "undecodable"}


@dataclass
class ListenerConfig:
    """What the listener is told before any AudioInfo; the nodes' parameters of these names
    default to these values (config/*.yaml repeats them, test_node_defaults.py checks)."""

    window_s: float = 2.0  # the shipped models were trained on 1.5-3 s crops
    hop_s: float = 0.5
    sample_rate: int = 16000
    channels: int = 1
    sample_format: str = "S16LE"
    coding_format: str = "wave"
    max_message_s: float = 10.0
    history_s: float = 4.0  # seconds held beyond the window (a slow worker; recent audio)


class Listener:
    """One input stream for one model rate. `log` has info/warning/error (a logger);
    `now_ns` stamps unstamped audio on arrival (the node's clock)."""

    def __init__(self, rate: int, config: ListenerConfig, log, now_ns: Callable[[], int],
                 on_frames: Callable[[np.ndarray, int, int], None] | None = None):
        self.config, self.log, self.now_ns, self.on_frames = config, log, now_ns, on_frames
        self.window, self.hop = window_hop_samples(config.window_s, config.hop_s, rate)
        # Room for the window plus slack for a slow worker and the history asked for.
        self.stream = WindowStream(rate, self.window, self.hop, capacity=self.window + max(
            self.hop * 4, round(config.history_s * rate)))
        self.format = AudioFormat(config.sample_rate, config.channels, config.sample_format)
        self.last_info: tuple | None = None  # the newest AudioInfo's fields
        self.coding: str | None = None  # pcm, mp3, or the name of a coding we refuse
        self.mp3: Mp3Stream | None = None  # the decoder of the current MP3 stream
        self.coding_error: BadAudio | None = None  # the input's coding, when we cannot decode it
        self.mp3_stamp_ns: int | None = None  # MP3: the newest message's stamp
        self.set_coding(config.coding_format)  # BadAudio: the caller names its setting
        self.throttle = Throttle(period_s=5.0)
        self.stats, self.bad = Counter(), Counter()
        self.latencies: list[float] = []
        self.input_error: BadAudio | None = None  # why the last message could not be decoded
        self.last_audio = time.monotonic()  # arrival of the last message (or start)
        self.worker: threading.Thread | None = None
        self.running = False

    @property
    def rate(self) -> int:
        return self.stream.rate

    # --- format and coding -------------------------------------------------------------

    def on_info(self, channels: int, sample_rate: int, sample_format: str, bitrate: int,
                coding_format: str) -> None:
        """An AudioInfo's fields; acts only on a change (it comes from two subscriptions, and
        again every few seconds)."""
        key = (channels, sample_rate, sample_format, bitrate, coding_format)
        if key == self.last_info:
            return
        self.last_info = key
        try:
            self.set_coding(coding_format)
        except BadAudio as error:
            self.refuse_coding(error, coding_format)
        fmt = AudioFormat(int(sample_rate), int(channels), sample_format or "S16LE")
        try:
            fmt.check()
        except BadAudio as error:  # adopted all the same: its audio is dropped, not misread
            self.bad["audio_info"] += 1
            self.warn("audio_info", f"refused AudioInfo {fmt}: {error}; audio is dropped "
                      f"until a usable AudioInfo arrives")
            self.format = fmt
            return
        if fmt.sample_rate != self.format.sample_rate:
            self.stats["rate_changes"] += 1
            self.log.info(f"input rate now {fmt.sample_rate} Hz: resampling to {self.rate} Hz")
        if fmt != self.format:
            self.log.info(f"audio format now {fmt}")
            self.format = fmt

    def set_coding(self, coding_format: str) -> None:
        """Decode what follows as `coding_format` (pcm or mp3); BadAudio if we cannot. The
        same coding again (re-sent every few seconds) changes nothing."""
        kind = check_coding(coding_format)
        if kind == self.coding and self.coding_error is None:
            return
        if kind == "mp3":
            Mp3Stream()  # PyAV present: refuse at once, not at the first message
        if self.coding is not None:
            self.log.info(f"audio coding now {kind}")
        self.coding, self.coding_error, self.mp3 = kind, None, None

    def refuse_coding(self, error: BadAudio, coding_format: str) -> None:
        name = coding_format.strip().lower()
        if name != self.coding:  # once per change of coding, not per message
            self.log.error(f"AudioInfo: {error}")
        self.coding, self.coding_error, self.mp3 = name, error, None

    # --- messages (the subscription's thread) ------------------------------------------

    def accept(self, data: bytes, stamp_ns: int | None) -> None:
        """One message's payload; `stamp_ns`: the capture time of its first sample, or None
        for unstamped audio (stamped on arrival)."""
        self.last_audio = time.monotonic()
        if self.coding_error is not None:  # said once, with what to do, by refuse_coding
            self.bad[self.coding_error.reason] += 1
            self.input_error = self.coding_error
            return
        if self.coding == "mp3":
            self.accept_mp3(data, stamp_ns)
            return
        try:
            frames = decode(data, self.format, self.config.max_message_s)
        except BadAudio as error:
            self.drop(error)
            return
        rate = self.format.sample_rate
        if stamp_ns is None:  # unstamped audio: its first sample was captured ~duration ago
            stamp_ns = self.now_ns() - round(frames.shape[1] * 1e9 / rate)
            self.store(frames, rate, stamp_ns)
        else:  # capture stamps: checked for lost audio and for jumps
            self.store(frames, rate, stamp_ns, clocked=True)

    def accept_mp3(self, data: bytes, stamp_ns: int | None) -> None:
        """MP3 as audio_capture sends it: decoded as it comes, stamped by the decoder from the
        first message's stamp and the samples since (Mp3Stream)."""
        if stamp_ns is None:
            stamp_ns = self.now_ns()
        # A message's stamp is its first frame's capture time: one that jumps (backwards, or
        # far ahead) starts a new stream (a restarted capture), with a decoder of its own.
        jump = stamp_jump(stamp_ns, self.mp3_stamp_ns) if self.mp3 is not None else ""
        if jump:
            self.stream.restart()
            self.restarted(jump)
            self.mp3 = None
        if self.mp3 is None:
            self.mp3 = Mp3Stream()
        self.mp3_stamp_ns = stamp_ns
        try:
            frames, rate, first_ns = self.mp3.decode(data, stamp_ns, self.config.max_message_s)
        except BadAudio as error:
            self.drop(error)
            return
        if frames.shape[1]:
            self.store(frames, rate, first_ns)

    def store(self, frames: np.ndarray, rate: int, stamp_ns: int, clocked: bool = False) -> None:
        self.input_error = None
        if self.on_frames is not None:
            self.on_frames(frames, rate, stamp_ns)
        if self.stream.push(downmix(frames), rate, stamp_ns, clocked=clocked):
            self.restarted(self.stream.clock.jump)  # the stream restarted before this audio

    def drop(self, error: BadAudio) -> None:
        self.bad[error.reason] += 1
        if error.reason in UNDECODABLE:
            self.input_error = error
        self.warn(error.reason, f"dropped an audio message: {error}")

    def restarted(self, jump: str) -> None:
        """Stamps jumped (a bag looped, a device restarted): a new stream, said and counted
        (WindowStream has started it)."""
        self.stats["stream_restarts"] += 1
        how = ("went backwards" if jump == "backwards" else
               f"jumped ahead more than {StreamClock.MAX_GAP_NS / 1e9:g} s")
        self.warn("stream_restart", f"audio stamps {how}: starting a new stream")

    def warn(self, reason: str, text: str) -> None:
        """A warning at most every 5 s per reason (see throttle.py)."""
        held = self.throttle(reason)
        if held is not None:
            self.log.warning(text + (f" ({held} more since the last such line)" if held else ""))

    # --- the worker --------------------------------------------------------------------

    def start(self, handle: Callable[[np.ndarray, int], None], name: str = "inference") -> None:
        """Run `handle(window audio, stamp_ns)` on every window the worker takes."""
        self.last_audio = time.monotonic()
        self.running = True
        self.worker = threading.Thread(target=self.work, args=(handle,), name=name, daemon=True)
        self.worker.start()

    def stop(self) -> None:
        self.running = False
        if self.worker is not None:
            self.stream.notify_all()
            self.worker.join(timeout=5)
            self.worker = None

    def work(self, handle: Callable[[np.ndarray, int], None]) -> None:
        while self.running:
            # behind: the newest due window only, the rest counted as skipped
            window, skipped = self.stream.wait_window(timeout=0.2)
            self.stats["windows_skipped"] += skipped
            if window is None:
                continue
            started = time.perf_counter()
            try:
                handle(window.audio, window.stamp_ns)
            except Exception as error:  # one bad window must not stop the node
                self.stats["inference_errors"] += 1
                if self.throttle("inference_error") is not None:
                    self.log.error(f"inference failed: {error}")
            self.latencies.append(time.perf_counter() - started)
            self.stats["windows_processed"] += 1

    # --- how it goes -------------------------------------------------------------------

    def figures(self) -> tuple[dict[str, str], float]:
        """(the counters diagnostics publish, mean seconds per window since the last call)."""
        latencies, self.latencies = self.latencies, []
        hop_s = self.hop / self.rate
        mean = float(np.mean(latencies)) if latencies else 0.0
        worst = float(np.max(latencies)) if latencies else 0.0
        return {
            "latency_mean_ms": f"{mean * 1000:.2f}",
            "latency_max_ms": f"{worst * 1000:.2f}",
            "real_time_factor": f"{mean / hop_s:.4f}",
            "windows_processed": str(self.stats["windows_processed"]),
            "windows_skipped": str(self.stats["windows_skipped"]),
            "bad_messages": str(sum(self.bad.values())),
            **{f"bad_{reason}": str(count) for reason, count in sorted(self.bad.items())},
            "rate_changes": str(self.stats["rate_changes"]),
            "coding": self.coding,
            "mp3_bad_frames": str(self.mp3.bad_frames if self.mp3 else 0),
            "stream_restarts": str(self.stats["stream_restarts"]),
            "lost_audio_s": f"{self.stream.clock.lost_ns / 1e9:.3f}",
            "audio_gaps": str(self.stream.clock.gaps),
            "inference_errors": str(self.stats["inference_errors"]),
        }, mean

    def health(self, mean_latency: float, timeout_s: float) -> tuple[str, str]:
        """("OK" | "WARN" | "ERROR", why): the worst of input we cannot decode, no audio for
        `timeout_s`, slower than real time."""
        if not self.running:
            return "OK", "inactive"
        if self.input_error is not None:
            return "ERROR", f"cannot decode the input: {self.input_error}"
        silent = time.monotonic() - self.last_audio
        if silent > timeout_s:
            return "WARN", f"no audio for {silent:.0f} s"
        if mean_latency >= self.hop / self.rate:
            return "WARN", "slower than real time"
        return "OK", "running"
