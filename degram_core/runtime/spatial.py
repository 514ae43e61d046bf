"""Spatial hearing in a stream: the listener's N-channel frames kept beside its mono windows,
and for each window the audio the model hears and the direction of what was heard.

`Spatial.on_frames` is the listener's hook (runtime/listener.py): it sees every message's
(channels, samples) frames before they are mixed down, on the subscription's thread, and keeps
the array's channels at 16 kHz in a ring of their own, each chunk with its capture stamp. The
worker then asks `hear(mono, stamp_ns)` for the window the listener handed it: the same
stretch of time is read back by its stamp (the two rings never share indices: a restart, a lost
message or a resampler's delay would shift them), and the answer (`Heard`) gives:

- `model_audio()`: what the model classifies: a delay-and-sum beam towards the direction of
  the window's loud frames (+0.03-0.06 of the true class's probability at -5..+5 dB SNR,
  docs/direction.md), the working channels' mean when there is none;
- `locate(active)` / `locate_sources(actives)`: the direction of the frames of one thing heard
  (an event's, a voice's), direction.Locator's;
- `loud`: the frames over the room's noise floor, a running percentile of the last seconds'
  frame levels (NoiseFloor), as `degram locate` takes it over a whole recording.

What cannot be used is counted in `counts`, never raised: a stream whose channel count is not
the array's (`channel_mismatch`: the window is heard as the listener's downmix, with no
direction), channels left out for NaN or for being dead, windows no longer held, and every
search without a direction by its reason.
"""
from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .audio import SAMPLE_RATE
from .direction import (FLOOR_PERCENTILE, LOUD_MARGIN_DB, Geometry, GeometryError, Located,
                        Locator, frame_levels)
from .stream import stamp_jump
from .vad import FRAME


class NoiseFloor:
    """A running percentile of frame levels (dB) over the last `seconds`: the room's floor,
    that a frame must stand LOUD_MARGIN_DB over to be loud. Each 32 ms frame counts once,
    however many overlapping windows hold it (they are added by their capture time)."""

    def __init__(self, seconds: float = 10.0, percentile: float = FLOOR_PERCENTILE):
        self.seconds_ns, self.percentile = round(seconds * 1e9), percentile
        self.levels: deque[tuple[int, float]] = deque()  # (capture stamp, level), oldest first

    def update(self, levels: np.ndarray, stamp_ns: int, rate: int = SAMPLE_RATE) -> float:
        """Add a window's frame levels (its first frame captured at `stamp_ns`); the floor."""
        step = FRAME * 1e9 / rate
        newest = self.levels[-1][0] if self.levels else None
        if newest is not None and stamp_ns + len(levels) * step < newest - self.seconds_ns:
            self.levels.clear()  # time went back (a restarted stream): a new room
            newest = None
        for i, level in enumerate(levels):
            at = stamp_ns + round(i * step)
            if newest is None or at > newest + step / 2:
                self.levels.append((at, float(level)))
        while self.levels and self.levels[0][0] < self.levels[-1][0] - self.seconds_ns:
            self.levels.popleft()
        return float(np.percentile([lv for _, lv in self.levels], self.percentile))


@dataclass
class Heard:
    """One window as the array heard it: `audio` (M, N) of the array's microphones at 16 kHz, or
    None when there is none (the listener's downmix `mono` is all there is)."""
    spatial: "Spatial"
    mono: np.ndarray  # (N,) the listener's downmix
    audio: np.ndarray | None  # (M, N)
    loud: np.ndarray  # (N // 512,) frames over the noise floor

    def mixed(self) -> np.ndarray:
        """(N,) the working channels' mean (NaN and dead channels left out), else the downmix."""
        if self.audio is None:
            return self.mono
        return self.spatial.locator.beam(self.audio, None)

    def model_audio(self) -> np.ndarray:
        """(N,) the beam towards the direction of the loud frames, else the working channels'
        mean; the listener's downmix without array audio."""
        if self.audio is None:
            return self.mono
        found = self.locate(self.loud, count=False)
        return self.spatial.locator.beam(self.audio, found.direction)

    def beam(self, direction) -> np.ndarray:
        """(N,) a delay-and-sum beam towards `direction` (None: the working channels' mean)."""
        if self.audio is None:
            return self.mono
        return self.spatial.locator.beam(self.audio, direction)

    def locate(self, active: np.ndarray | None, count: bool = True) -> Located:
        """The direction of the frames `active` (one flag per 512 samples)."""
        if self.audio is None:
            return Located(None, "no array audio")
        return self.spatial.counted(self.spatial.locator.locate(self.audio, active), count)

    def locate_sources(self, actives: list[np.ndarray]) -> list[Located]:
        """One direction per source, each from its own frames (a frame two share is neither's)."""
        if self.audio is None:
            return [Located(None, "no array audio") for _ in actives]
        return [self.spatial.counted(found)
                for found in self.spatial.locator.locate_sources(self.audio, actives)]


class Spatial:
    """The array's channels of one stream, by capture time. Thread-safe: `on_frames` on the
    subscription's thread, `hear` on the worker's. `warn(reason, text)`: a throttled warning
    (the listener's)."""

    def __init__(self, geom: Geometry, seconds: float = 8.0, floor_s: float = 10.0,
                 warn: Callable[[str, str], None] | None = None, **locator):
        self.geometry, self.rate = geom, SAMPLE_RATE
        self.locator = Locator(geom, self.rate, **locator)
        self.capacity = round(seconds * self.rate)
        self.warn = warn or (lambda reason, text: None)
        self.floor = NoiseFloor(floor_s)
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        self.data: np.ndarray | None = None  # (M, capacity), sample i at i % capacity
        self.written = 0
        self.anchors: deque[tuple[int, int]] = deque()  # (index, stamp_ns) of each chunk held
        self.end_ns: int | None = None  # where the newest chunk ended
        self.resampler = None  # soxr stream for input not at 16 kHz
        self.source: tuple[int, int] | None = None  # (channels, rate) of the input
        self.mismatch = False  # the newest message's channel count is not the array's

    # --- the listener's thread --------------------------------------------------------

    def on_frames(self, frames: np.ndarray, rate: int, stamp_ns: int) -> None:
        """A message's (C, n) frames at `rate`, its first sample captured at `stamp_ns`."""
        try:
            audio = self.geometry.select(frames)
        except GeometryError as error:
            self.counts["channel_mismatch"] += 1
            self.mismatch = True
            self.warn("channel_mismatch", f"no direction: {error}; classifying the downmix")
            return
        self.mismatch = False
        duration_ns = round(frames.shape[1] * 1e9 / rate)
        with self.lock:
            if (frames.shape[0], rate) != self.source or (
                    self.end_ns is not None and stamp_jump(stamp_ns, self.end_ns)):
                self.reset(frames.shape[0], rate)
            self.end_ns = stamp_ns + duration_ns
            if self.resampler is not None:
                # soxr holds back a few ms (its filter): a direction does not notice them
                audio = self.resampler.resample_chunk(np.ascontiguousarray(audio.T)).T
            self.write(np.asarray(audio, dtype=np.float32), stamp_ns)

    def reset(self, channels: int, rate: int) -> None:
        import soxr

        self.source = (channels, rate)
        self.data = np.zeros((self.geometry.count, self.capacity), dtype=np.float32)
        self.written, self.anchors, self.end_ns = 0, deque(), None
        self.resampler = (None if rate == self.rate else
                          soxr.ResampleStream(rate, self.rate, self.geometry.count, dtype="float32"))

    def write(self, audio: np.ndarray, stamp_ns: int) -> None:
        n = audio.shape[1]
        if n == 0:
            return
        self.anchors.append((self.written, stamp_ns))
        audio = audio[:, max(0, n - self.capacity):]
        self.written += n - audio.shape[1]
        start = self.written % self.capacity
        first = min(audio.shape[1], self.capacity - start)
        self.data[:, start:start + first] = audio[:, :first]
        self.data[:, :audio.shape[1] - first] = audio[:, first:]
        self.written += audio.shape[1]
        while len(self.anchors) > 1 and self.anchors[1][0] <= self.written - self.capacity:
            self.anchors.popleft()

    # --- the worker's thread ----------------------------------------------------------

    def read(self, stamp_ns: int, length: int) -> np.ndarray | None:
        """(M, length) captured from `stamp_ns` on, or None if not (or no longer) held. Placed
        by the stamp of the chunk holding its last sample, as the listener stamps windows."""
        end_ns = stamp_ns + round((length - 1) * 1e9 / self.rate)
        with self.lock:
            anchor = next((a for a in reversed(self.anchors) if a[1] <= end_ns), None)
            if anchor is None or self.data is None:
                return None
            start = anchor[0] + round((stamp_ns - anchor[1]) * self.rate / 1e9)
            if start < max(0, self.written - self.capacity) or start + length > self.written:
                return None
            index = (start + np.arange(length)) % self.capacity
            return self.data[:, index]

    def hear(self, mono: np.ndarray, stamp_ns: int) -> Heard:
        """The window of `mono` (the listener's, at 16 kHz, first sample at `stamp_ns`)."""
        audio = None if self.mismatch else self.read(stamp_ns, len(mono))
        if audio is None:
            if not self.mismatch:
                self.counts["windows_not_held"] += 1
            return Heard(self, mono, None, np.zeros(len(mono) // FRAME, dtype=bool))
        _, dropped = self.locator.usable(audio)
        for reason in dropped:
            kind = "dead" if reason.endswith("dead") else "nan"
            self.counts[f"windows_{kind}_channel"] += 1
        if dropped:
            self.warn("dropped_channel", f"left out of the direction and the beam: "
                      f"{', '.join(dropped)}")
        levels = frame_levels(np.where(np.isfinite(audio), audio, 0.0))
        floor = self.floor.update(levels, stamp_ns, self.rate)
        return Heard(self, mono, audio, levels > floor + LOUD_MARGIN_DB)

    def counted(self, found: Located, count: bool = True) -> Located:
        if count:
            key = ("with_direction" if found.direction is not None else
                   "no_direction_" + found.reason.split(" (")[0].replace(" ", "_").replace(":", ""))
            self.counts[key] += 1
        return found
