"""The streaming core (runtime/stream.py) that StreamingClassifier and the nodes' listener
share: the resampler, the ring buffer, the stream clock, due windows and their stamps. The
node's side is the listener itself (runtime/listener.py, what InferenceNode wraps): messages
in as bytes, windows out through its worker. No ROS."""
import threading
import time

import numpy as np
import pytest

from degram_core.runtime.classifier import Prediction, StreamingClassifier
from degram_core.runtime.listener import Listener, ListenerConfig
from degram_core.runtime.stream import (Resampler, RingBuffer, StreamClock, WindowStream, full_windows,
                                window_hop_samples, window_starts)

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND  # a wall-clock stamp, as audio_common's are
RATE = 16000  # the model's
WINDOW, HOP = window_hop_samples(1.0, 0.25, RATE)


class Log:
    """The listener's logger: keeps the lines."""

    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(("info", text))

    def warning(self, text):
        self.lines.append(("warning", text))

    def error(self, text):
        self.lines.append(("error", text))


def node_listener(now_ns=lambda: T0) -> Listener:
    """The listener as InferenceNode configures it (1 s windows every 0.25 s here)."""
    return Listener(RATE, ListenerConfig(window_s=1.0, hop_s=0.25), Log(), now_ns)


def send(ear: Listener, chunk: np.ndarray, rate: int, stamp: int | None) -> None:
    """A message as audio_common sends it: F32LE bytes at `rate`, its AudioInfo first (an
    AudioInfo repeating the format changes nothing)."""
    ear.on_info(1, rate, "F32LE", rate * 32, "wave")
    ear.accept(np.asarray(chunk, "<f4").tobytes(), stamp)


def chunked(audio: np.ndarray, rate: int, t0: int, seed: int = 0, odd_up_to: int = 3000):
    """(chunk, capture stamp) of `audio` in chunks of random odd sizes, stamped contiguously
    as a capture node stamps them: t0 + samples before / rate."""
    rng, position, out = np.random.default_rng(seed), 0, []
    while position < len(audio):
        size = int(rng.integers(0, odd_up_to // 2)) * 2 + 1
        out.append((audio[position:position + size], t0 + round(position * 1e9 / rate)))
        position += size
    return out


def signal(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def as_node(ear: Listener, chunks, rate: int, take_each: bool = True) -> list:
    """The listener given stamped PCM messages, its worker taking the newest due window; here
    the worker keeps up (take after every message) or comes once at the end (take_each=False,
    every window: a taker that is late but skips none)."""
    stream, windows = ear.stream, []
    for chunk, stamp in chunks:
        send(ear, chunk, rate, stamp)
        while take_each:
            window, skipped = stream.take(newest_only=True)
            assert skipped == 0
            if window is None:
                break
            windows.append(window)
    while (window := stream.take()[0]) is not None:
        windows.append(window)
    return windows


class Recorder:
    """Classifier stand-in for StreamingClassifier: records the windows it is given."""
    sample_rate = RATE

    def __init__(self):
        self.batches = []

    def probabilities(self, batch):
        self.batches.append(batch.numpy().copy())
        return np.zeros((len(batch), 2), np.float32)

    def ranked(self, probs, top_k):
        return Prediction([("x", 0.0)], probs)


def as_classifier(chunks, rate: int):
    recorder = Recorder()
    stream = StreamingClassifier(recorder, 1.0, 0.25)
    results = [r for chunk, _ in chunks for r in stream.feed(chunk, rate)]
    audio = np.concatenate(recorder.batches) if recorder.batches else np.zeros((0, WINDOW))
    return results, audio


# --- the pieces ------------------------------------------------------------------------


def test_resampler_is_seamless_across_chunks_and_says_where_each_chunk_starts():
    rate_in = 44100
    tone = np.sin(2 * np.pi * 440 * np.arange(rate_in) / rate_in).astype(np.float32)
    resample = Resampler(16000)
    pieces, produced = [], 0
    for i in range(0, rate_in, 1000):
        out, shift = resample(tone[i:i + 1000], rate_in)
        # the chunk's first input sample is output sample produced + shift of the stream
        assert shift == pytest.approx(i * 16000 / rate_in - produced)
        assert shift > -1e-9
        pieces.append(out)
        produced += len(out)
    out = np.concatenate(pieces)
    assert 16000 - 600 < len(out) <= 16000  # the filter's delay is still inside the stream
    # soxr's output is aligned in time with its input: output sample j is at j / 16000 s
    reference = np.sin(2 * np.pi * 440 * np.arange(len(out)) / 16000)
    assert np.abs(out[2000:10000] - reference[2000:10000]).max() < 0.05
    passed, shift = resample(tone[:100], 16000)  # 16 kHz passes through, a new stream
    np.testing.assert_array_equal(passed, tone[:100])
    assert shift == 0.0


def test_ring_buffer_keeps_the_newest_samples_and_their_times():
    ring = RingBuffer(capacity=10, rate=10)  # 10 Hz: sample i is 0.1 s after sample i-1
    ring.write(np.arange(6, dtype=np.float32), stamp_ns=5_000_000_000)
    ring.write(np.arange(6, 13, dtype=np.float32), stamp_ns=5_600_000_000)
    assert ring.written == 13
    np.testing.assert_array_equal(ring.read(3, 10), np.arange(3, 13))
    assert ring.read(2, 3) is None  # overwritten
    assert ring.read(10, 5) is None  # not yet written
    assert ring.stamp_ns(3) == 5_300_000_000 and ring.stamp_ns(12) == 6_200_000_000
    ring.write(np.arange(100, 125, dtype=np.float32), stamp_ns=6_300_000_000)  # longer than it holds
    assert ring.written == 38
    np.testing.assert_array_equal(ring.read(28, 10), np.arange(115, 125))
    assert ring.stamp_ns(28) == 6_300_000_000 + 1_500_000_000
    ring.reset()
    assert ring.written == 0 and ring.read(0, 1) is None and ring.stamp_ns(0) == 0


def test_a_sample_is_stamped_from_the_chunk_that_holds_the_given_sample():
    ring = RingBuffer(capacity=100, rate=10)
    ring.write(np.zeros(10, np.float32), stamp_ns=5 * SECOND)  # samples 0-9
    ring.write(np.zeros(10, np.float32), stamp_ns=9 * SECOND)  # 10-19, after 3 s never heard
    assert ring.stamp_ns(2) == 9 * SECOND - 800_000_000  # the newest chunk's view
    assert ring.stamp_ns(2, by=9) == 5 * SECOND + 200_000_000
    assert ring.stamp_ns(2, by=10) == ring.stamp_ns(2, by=19) == 9 * SECOND - 800_000_000
    ring.write(np.zeros(5, np.float32), stamp_ns=7 * SECOND, origin=22.5)  # origin: sample 22.5
    assert ring.stamp_ns(20, by=20) == 7 * SECOND - 250_000_000


def test_stream_clock_counts_lost_audio_and_restarts():
    clock = StreamClock()
    assert not clock.update(10 * SECOND, SECOND)  # 10..11 s
    assert not clock.update(11 * SECOND + 20_000_000, SECOND)  # 20 ms late: jitter, not loss
    assert (clock.lost_ns, clock.gaps) == (0, 0)
    assert not clock.update(14 * SECOND, SECOND)  # 12.02..14 s never arrived
    assert clock.gaps == 1 and clock.lost_ns == 2 * SECOND - 20_000_000
    assert clock.update(3 * SECOND, SECOND)  # backwards: a new stream, nothing lost
    assert not clock.update(4 * SECOND, SECOND)
    assert clock.gaps == 1


@pytest.mark.parametrize("length", [0, 5, 20, 21, 33, 100])
def test_full_windows_are_every_window_on_the_grid(length):
    wave = np.arange(length, dtype=np.float32)
    windows = full_windows(wave, 20, 6)
    starts = list(window_starts(length, 20, 6))
    assert windows.shape == (len(starts), 20) and windows.flags["C_CONTIGUOUS"]
    for start, window in zip(starts, windows):
        np.testing.assert_array_equal(window, wave[start:start + 20])
    assert starts == ([] if length < 20 else list(range(0, length - 19, 6)))


# --- one schedule for the node and StreamingClassifier ---------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_node_and_streaming_classifier_take_the_same_windows_with_the_same_stamps(seed):
    rate = 44100  # not the model's: resampled, in odd-sized chunks
    chunks = chunked(signal(3.3, rate, seed), rate, T0, seed=seed)
    results, classified = as_classifier(chunks, rate)
    ear = node_listener()
    windows = as_node(ear, chunks, rate)
    assert len(results) == len(windows) == 1 + (ear.stream.written - WINDOW) // HOP >= 10
    for result, window, audio in zip(results, windows, classified):
        assert window.start == round(result.start_s * RATE)
        assert result.end_s == (window.start + WINDOW) / RATE
        np.testing.assert_array_equal(window.audio, audio)
        # the capture time of the window's first sample, to the nanosecond: the resampler's
        # held-back audio (12-35 ms at 44.1 kHz) no longer makes it late
        assert abs(window.stamp_ns - (T0 + round(result.start_s * 1e9))) <= 1
    assert [w.start for w in windows] == list(range(0, HOP * len(windows), HOP))


def test_the_worker_takes_the_same_windows_or_counts_them_skipped():
    """The node's threads: messages arrive while the listener's worker hands windows to a
    model that is slow now and then, and one that fails once."""
    rate = 44100
    chunks = chunked(signal(4.0, rate), rate, T0, seed=3, odd_up_to=1500)
    reference = {w.start: w for w in as_node(node_listener(), chunks, rate)}
    ear, taken = node_listener(), []

    def handle(audio, stamp_ns):
        taken.append((audio, stamp_ns))
        if len(taken) == 2:
            raise RuntimeError("a bad window")  # costs that window only
        time.sleep(0.02 if len(taken) % 3 else 0.3)

    ear.start(handle)
    for chunk, stamp in chunks:
        send(ear, chunk, rate, stamp)
        time.sleep(0.001)
    time.sleep(0.5)
    worker = ear.worker
    ear.stop()
    assert not worker.is_alive() and not ear.running
    skipped = ear.stats["windows_skipped"]
    assert skipped > 0  # it did fall behind
    assert len(taken) == ear.stats["windows_processed"] and ear.stats["inference_errors"] == 1
    assert len(taken) + skipped == len(reference)
    by_stamp = {w.stamp_ns: w for w in reference.values()}
    for audio, stamp_ns in taken:
        np.testing.assert_array_equal(audio, by_stamp[stamp_ns].audio)
    assert any("inference failed: a bad window" in text for _, text in ear.log.lines)


def test_a_waiting_worker_wakes_on_the_push_that_completes_a_window():
    stream = node_listener().stream
    stream.push(np.zeros(WINDOW - 1, np.float32), RATE, T0)
    got = []
    thread = threading.Thread(target=lambda: got.append(stream.wait_window(timeout=10)))
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    stream.push(np.zeros(1, np.float32), RATE, T0 + SECOND)
    thread.join(timeout=10)
    assert time.monotonic() - started < 2 and got[0][0].start == 0


def test_a_chunk_of_any_length_gives_every_window():
    audio = signal(10.0, RATE)
    stream = WindowStream(RATE, WINDOW, HOP)  # holds one window and one hop
    windows = stream.feed(audio, RATE, T0)  # 10 s at once: written a piece at a time
    np.testing.assert_array_equal(np.stack([w.audio for w in windows]),
                                  full_windows(audio, WINDOW, HOP))
    assert [w.stamp_ns for w in windows] == [T0 + s * 62_500 for s in window_starts(len(audio),
                                                                                  WINDOW, HOP)]


# --- lost audio, restarts, rate changes: as the node has always done ---------------------


@pytest.mark.parametrize("take_each", [True, False])
def test_lost_audio_is_counted_and_the_windows_run_on_stamped_from_their_newer_side(take_each):
    """1 s, then 2 s that never arrived, then 1.5 s, in 0.1 s messages. Indices run on without
    a hole (no restart); a window is stamped back from the chunk holding its last sample, as
    the node stamped it from the newest chunk while it kept up: windows ending after the gap
    are 2 s later. Whenever the windows are taken, the stamps are the same."""
    ear, chunk = node_listener(), RATE // 10
    audio = signal(2.5, RATE)
    stamps = [T0 + k * SECOND // 10 + (2 * SECOND if k >= 10 else 0) for k in range(25)]
    chunks = [(audio[k * chunk:(k + 1) * chunk], stamps[k]) for k in range(25)]
    windows = as_node(ear, chunks, RATE, take_each=take_each)
    assert (ear.stream.clock.gaps, ear.stream.clock.lost_ns) == (1, 2 * SECOND)
    assert ear.figures()[0]["lost_audio_s"] == "2.000"
    assert [w.start for w in windows] == list(range(0, 40000 - WINDOW + 1, HOP))
    assert [w.stamp_ns for w in windows] == [
        T0 + w.start * 62_500 + (2 * SECOND if w.start + WINDOW > RATE else 0) for w in windows]
    np.testing.assert_array_equal(windows[3].audio, audio[3 * HOP:3 * HOP + WINDOW])


@pytest.mark.parametrize("rate", [16000, 44100])
def test_stamps_going_backwards_start_a_new_stream(rate):
    """A bag looped: the windows start again from the new stream's first sample, stamped from
    its stamps; the old stream's pending windows and held-back audio are gone."""
    first = chunked(signal(1.6, rate, seed=1), rate, T0, seed=4)
    second = chunked(signal(2.0, rate, seed=2), rate, T0 - 10 * SECOND, seed=5)
    ear = node_listener()
    before = as_node(ear, first[:-3], rate)
    for chunk, stamp in first[-3:]:  # windows may be due, not yet taken, at the restart
        send(ear, chunk, rate, stamp)
    send(ear, second[0][0], rate, second[0][1])  # went backwards
    assert ear.stats["stream_restarts"] == 1
    assert ("warning", "audio stamps went backwards: starting a new stream") in ear.log.lines
    after = as_node(ear, second[1:], rate)
    fresh = as_node(node_listener(), second, rate)  # the second stream on its own
    assert before and after and len(after) == len(fresh)
    for got, want in zip(after, fresh):
        assert (got.start, got.stamp_ns) == (want.start, want.stamp_ns)
        np.testing.assert_array_equal(got.audio, want.audio)
    assert ear.stream.clock.gaps == 0
    # unstamped audio is stamped on arrival and not checked
    send(ear, second[0][0], rate, None)
    assert ear.stats["stream_restarts"] == 1


def test_stamps_far_ahead_start_a_new_stream_and_lose_nothing():
    """A flood stamped up to 2^31 s (a fuzz run): no hole lost audio could leave, so a new
    stream each time, as a backward jump is; a plausible hole is still lost audio."""
    ear = node_listener()
    chunk = signal(0.1, RATE)
    send(ear, chunk, RATE, T0)
    send(ear, chunk, RATE, T0 + 30 * SECOND)  # 29.9 s lost: within StreamClock.MAX_GAP_NS
    assert (ear.stream.clock.lost_ns, ear.stats["stream_restarts"]) == (29_900_000_000, 0)
    for stamp in (T0 + 10**6 * SECOND, 2**31 * SECOND):  # 11.6 days, then 2038
        send(ear, chunk, RATE, stamp)
    assert ear.stream.clock.lost_ns == 29_900_000_000 and ear.stats["stream_restarts"] == 2
    assert ear.stream.written == len(chunk)  # the newest stream only
    assert ("warning", "audio stamps jumped ahead more than 60 s: starting a new stream"
            ) in ear.log.lines


def test_a_rate_change_resamples_and_the_windows_run_on():
    """16 kHz, then the same microphone at 44.1 kHz (an AudioInfo said so): no restart, the
    indices and windows run on, and stamps stay the capture times."""
    ear = node_listener()
    low = chunked(signal(1.3, RATE), RATE, T0, seed=6)
    t1 = T0 + round(sum(len(c) for c, _ in low) * 1e9 / RATE)
    high = chunked(signal(2.0, 44100), 44100, t1, seed=7)
    windows = as_node(ear, low, RATE) + as_node(ear, high, 44100)
    assert [w.start for w in windows] == list(range(0, HOP * len(windows), HOP))
    assert len(windows) == 1 + (ear.stream.written - WINDOW) // HOP >= 9
    for w in windows:
        assert abs(w.stamp_ns - (T0 + w.start * 62_500)) <= 1
    assert ear.stream.clock.gaps == 0 and ear.stats["rate_changes"] == 1
