"""The one streaming core: audio in chunks of any size and rate -> due windows at the model's
rate, each stamped with the capture time of its first sample.

Used by `classifier.StreamingClassifier` (every window, synchronously) and by the listener
(listener.py, which the ROS nodes wrap: messages are pushed, a worker thread takes the newest
due window), so both schedule the same windows with the same stamps. No ROS here.

Indices count samples at the model's rate from the start of the stream (a restart starts them
again at 0); window k starts at k * hop.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
import soxr


def window_hop_samples(window_s: float, hop_s: float, rate: int) -> tuple[int, int]:
    """Window and hop in samples at `rate`; ValueError unless both are at least one sample."""
    window, hop = round(window_s * rate), round(hop_s * rate)
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be positive, got {window_s} s / {hop_s} s")
    return window, hop


def window_starts(length: int, window: int, hop: int) -> range:
    """First sample of every full window of `length` samples: the grid the stream keeps too."""
    return range(0, length - window + 1, hop)


def full_windows(wave: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(N,) -> (W, window), a copy: every full window, in order (W = 0 when N < window)."""
    if len(wave) < window:
        return np.zeros((0, window), dtype=wave.dtype)
    # a strided view of the windows, copied once: no Python loop over the windows
    return np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(wave, window)[::hop])


def windows(wave: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(N,) -> (W, window): every full window; a clip shorter than one window is centred in
    silence, as the node hears a short sound between quiet stretches."""
    if len(wave) < window:
        padded = np.zeros(window, dtype=np.float32)
        start = (window - len(wave)) // 2
        padded[start:start + len(wave)] = wave
        return padded[None]
    return full_windows(wave, window, hop)


class Resampler:
    """A stateful soxr stream to the model's rate, rebuilt when the input rate changes.

    soxr's output is aligned in time with its input (output sample j is at time j / target
    from the stream's start) but it holds back a few milliseconds (its filter's delay, 12-35 ms
    at 44.1 kHz) and hands out its output in blocks. So a chunk's first output sample is not
    the chunk's first input sample: `__call__` also says where that input sample falls, in
    output samples from the chunk's first output sample (`shift`, >= 0 up to rounding), which
    is what lets stamps stay exact. 16 kHz input passes straight through (shift 0).
    """

    def __init__(self, target_rate: int):
        self.target_rate = target_rate
        self.reset()

    def reset(self) -> None:
        """Forget the input rate and whatever the filter held back (a new stream)."""
        self.rate: int | None = None
        self.stream: soxr.ResampleStream | None = None
        self.consumed = 0  # input samples since the stream was built
        self.produced = 0  # output samples since then

    def __call__(self, audio: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
        """(N,) at `rate` -> ((M,) at the target rate, shift in output samples)."""
        if rate != self.rate:
            # what the old stream held back is lost (a few ms): the node logs the rate change
            self.rate, self.consumed, self.produced = rate, 0, 0
            self.stream = (None if rate == self.target_rate else
                           soxr.ResampleStream(rate, self.target_rate, 1, dtype="float32"))
        if self.stream is None:
            return audio, 0.0
        shift = self.consumed * self.target_rate / rate - self.produced
        out = self.stream.resample_chunk(audio)
        self.consumed += len(audio)
        self.produced += len(out)
        return out, shift


def stamp_jump(stamp_ns: int, end_ns: int) -> str:
    """"backwards" or "ahead" when audio stamped `stamp_ns`, after audio that ended at
    `end_ns`, starts a new stream (see StreamClock); else ""."""
    if stamp_ns < end_ns - StreamClock.TOLERANCE_NS:
        return "backwards"
    return "ahead" if stamp_ns > end_ns + StreamClock.MAX_GAP_NS else ""


class StreamClock:
    """Checks each stamped message against where the previous one ended.

    Stamped more than TOLERANCE_NS earlier: time went backwards (a bag looped, a device
    restarted), a new stream. Stamped later: audio captured but never received, counted as
    lost. Best-effort QoS drops messages silently, those above ~512 KB over shared memory and
    those a full queue overflows; the stamps are the only trace they leave. Stamped more than
    MAX_GAP_NS later is no hole that dropped messages leave (a fuzz run stamped up to 2^31 s
    and read 333 billion seconds lost): a new stream too, as a capture restarted after a pause.
    """

    TOLERANCE_NS = 50_000_000
    MAX_GAP_NS = 60_000_000_000

    def __init__(self):
        self.end_ns: int | None = None
        self.lost_ns = 0
        self.gaps = 0
        self.jump = ""  # how the newest restart's stamps moved: "backwards" or "ahead"

    def update(self, stamp_ns: int, duration_ns: int) -> bool:
        """Record a message; True when it starts a new stream."""
        self.jump = stamp_jump(stamp_ns, self.end_ns) if self.end_ns is not None else ""
        if not self.jump and self.end_ns is not None and stamp_ns > self.end_ns + self.TOLERANCE_NS:
            self.lost_ns += stamp_ns - self.end_ns
            self.gaps += 1
        self.end_ns = stamp_ns + duration_ns
        return bool(self.jump)



@dataclass(frozen=True)
class Anchor:
    """Where a chunk's stamp sits in the stream: `stamp_ns` is the capture time of (fractional)
    index `origin`; the chunk's samples start at index `index`."""
    index: int
    origin: float
    stamp_ns: int


class RingBuffer:
    """The last `capacity` samples at one rate, with the time of every sample.

    Samples are numbered from the first one written since the last reset. Each chunk written
    keeps its stamp (an Anchor); the time of sample i from a chunk's anchor is
    t(i) = stamp + (i - origin) / rate. Thread-safe on its own (one lock); WindowStream also
    holds its condition around every use, so a window and its stamp come from one state.
    """

    def __init__(self, capacity: int, rate: int):
        self.capacity, self.rate = capacity, rate
        self.data = np.zeros(capacity, dtype=np.float32)  # (capacity,), sample i at i % capacity
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.written = 0  # samples written since the reset
            self.anchors: deque[Anchor] = deque()  # oldest first; only chunks still held

    def write(self, audio: np.ndarray, stamp_ns: int, origin: float | None = None) -> None:
        """Append a chunk (N,) whose index `origin` (default: its first sample) was captured
        at `stamp_ns`."""
        with self.lock:
            if len(audio) == 0:
                return  # nothing to stamp (soxr often returns nothing for a small chunk)
            index = self.written
            self.anchors.append(Anchor(index, float(index if origin is None else origin), stamp_ns))
            overflow = max(0, len(audio) - self.capacity)  # only the newest samples fit
            self.written += overflow
            audio = audio[overflow:]
            start = self.written % self.capacity
            first = min(len(audio), self.capacity - start)
            self.data[start:start + first] = audio[:first]
            self.data[:len(audio) - first] = audio[first:]
            self.written += len(audio)
            # anchors of chunks whose samples are all overwritten are of no more use
            oldest = self.written - self.capacity
            while len(self.anchors) > 1 and self.anchors[1].index <= oldest:
                self.anchors.popleft()

    def read(self, start: int, length: int) -> np.ndarray | None:
        """Samples [start, start + length) (a copy), or None if they are no longer (or not
        yet) held."""
        with self.lock:
            if start < self.written - self.capacity or start + length > self.written or start < 0:
                return None
            first = start % self.capacity
            if first + length <= self.capacity:
                return self.data[first:first + length].copy()
            return np.concatenate([self.data[first:], self.data[:first + length - self.capacity]])

    def stamp_ns(self, index: int, by: int | None = None) -> int:
        """Capture time of sample `index`, from the stamp of the chunk that holds sample `by`
        (default: the newest chunk's). 0 before anything is written."""
        with self.lock:
            anchor = next((a for a in reversed(self.anchors) if by is None or a.index <= by),
                          self.anchors[0] if self.anchors else None)
            if anchor is None:
                return 0
            return anchor.stamp_ns + round((index - anchor.origin) * 1e9 / self.rate)


@dataclass(frozen=True)
class Window:
    start: int  # index of its first sample (model rate, from the stream's start)
    audio: np.ndarray  # (window,) float32 at the model's rate
    stamp_ns: int  # capture time of its first sample


class WindowStream:
    """Resampler -> ring buffer -> the windows due every hop, stamped from sample counts.

    Stamps: a window's stamp is its first sample's capture time, counted back (at the model's
    rate) from the stamp of the chunk that completed it, i.e. the one holding its last sample.
    That is what the node has always published while its worker kept up, now independent of
    when the worker runs. On contiguous stamps it is stamp0 + start / rate to the nanosecond,
    with resampling too (Resampler's shift). After lost audio (a hole in the stamps, counted by
    `clock`) the indices run on without a hole, so a window spanning the hole is stamped from
    its newer side. A restart (stamps going backwards, or far ahead) starts indices, windows
    and the resampler again; a change of input rate only rebuilds the resampler.

    Threads: one producer calls push/restart (the nodes' subscription callbacks; the resampler
    and clock are its alone), any thread takes windows. Ring and schedule change only under
    `wake`, whose notify wakes a waiting taker.
    """

    def __init__(self, rate: int, window: int, hop: int, capacity: int | None = None):
        """Window and hop in samples at `rate` (the model's); `capacity` samples are held (at
        least one window; default one window and one hop)."""
        self.rate, self.window, self.hop = rate, window, hop
        self.ring = RingBuffer(max(window, capacity or window + hop), rate)
        self.resampler = Resampler(rate)
        self.clock = StreamClock()  # lost audio and restarts, for stamped input
        self.wake = threading.Condition()
        self.next_start = 0  # index of the next window's first sample

    @property
    def capacity(self) -> int:
        return self.ring.capacity

    @property
    def written(self) -> int:
        return self.ring.written

    # --- producer ----------------------------------------------------------------------

    def push(self, audio: np.ndarray, rate: int, stamp_ns: int, clocked: bool = False) -> bool:
        """Add a chunk (N,) at `rate` whose first sample was captured at `stamp_ns`. `clocked`:
        the stamps are capture times to check against the previous chunk's end (StreamClock);
        True when this chunk started a new stream (the stream was restarted before it)."""
        restarted = clocked and self.clock.update(stamp_ns, round(len(audio) * 1e9 / rate))
        if restarted:
            self.restart()
        out, shift = self.resampler(audio, rate)
        with self.wake:
            self.ring.write(out, stamp_ns, self.ring.written + shift)
            self.wake.notify()
        return restarted

    def restart(self) -> None:
        """A new stream: held audio, the schedule and the resampler's state go."""
        self.resampler.reset()
        with self.wake:
            self.ring.reset()
            self.next_start = 0

    # --- takers ------------------------------------------------------------------------

    def take(self, newest_only: bool = False) -> tuple[Window | None, int]:
        """(the next due window or None, windows skipped). `newest_only`: a taker that fell
        behind jumps to the newest due window, the ones before it counted as skipped, so no
        backlog builds up (the nodes). Windows no longer held are skipped too."""
        skipped = 0
        with self.wake:
            while self.ring.written >= self.next_start + self.window:
                due = (self.ring.written - self.window - self.next_start) // self.hop + 1
                if newest_only and due > 1:
                    skipped += due - 1
                    self.next_start += (due - 1) * self.hop
                start = self.next_start
                self.next_start += self.hop
                audio = self.ring.read(start, self.window)
                if audio is None:  # overwritten (a chunk longer than the buffer holds)
                    skipped += 1
                    continue
                stamp = self.ring.stamp_ns(start, by=start + self.window - 1)
                return Window(start, audio, stamp), skipped
        return None, skipped

    def wait_window(self, timeout: float) -> tuple[Window | None, int]:
        """take(newest_only=True), waiting up to `timeout` s for a window when none is due.
        Checking and waiting under one lock: a push between them cannot be missed."""
        with self.wake:
            window, skipped = self.take(newest_only=True)
            if window is None:
                self.wake.wait(timeout)
                window, more = self.take(newest_only=True)
                skipped += more
            return window, skipped

    def notify_all(self) -> None:
        """Wake waiting takers (e.g. to see that they should stop)."""
        with self.wake:
            self.wake.notify_all()

    def recent(self, length: int) -> tuple[np.ndarray | None, int]:
        """(the newest `length` samples or None if not held, samples written) from one state."""
        with self.wake:
            written = self.ring.written
            return (self.ring.read(written - length, length) if written >= length else None,
                    written)

    def feed(self, audio: np.ndarray, rate: int, stamp_ns: int) -> list[Window]:
        """One thread only (StreamingClassifier): add a chunk of any length and take every
        window it completes, none skipped, however long the chunk.

        The chunk is resampled whole (seamless whatever the chunking), then written a
        piece at a time, each no longer than the ring has room for beyond the part of a window
        still pending, and its windows taken before the next piece overwrites them."""
        out, shift = self.resampler(audio, rate)
        step = self.ring.capacity - self.window + 1
        windows = []
        for offset in range(0, len(out), step):
            with self.wake:
                # every piece keeps the chunk's stamp, at the chunk's origin
                self.ring.write(out[offset:offset + step], stamp_ns,
                                self.ring.written - offset + shift)
            while (window := self.take()[0]) is not None:
                windows.append(window)
        return windows
