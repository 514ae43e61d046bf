"""Spatial hearing in a stream (runtime/spatial.py): N-channel messages through the real
listener, the array's channels read back by each window's stamp, a direction from the frames
heard, and what cannot be used counted (rooms simulated with pyroomacoustics)."""
import numpy as np
import pytest

from degram_core.runtime.codecs import encode_s16le
from degram_core.runtime.direction import geometry
from degram_core.runtime.listener import Listener, ListenerConfig
from degram_core.runtime.spatial import NoiseFloor, Spatial
from test_direction import error_deg, noise_bursts, room

RATE = 16000
START_NS = 5_000_000_000


class Log:
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    warning = error = info


def stream(audio: np.ndarray, array: str, rate: int = RATE, chunk_s: float = 0.1,
           skip: set[int] = frozenset(), sample_format: str = "S16LE"):
    """Send (C, N) `audio` at `rate` as interleaved messages through a listener with the
    array's Spatial on its hook; returns (spatial, [(heard, window)]) of every window."""
    log = Log()
    listener = Listener(RATE, ListenerConfig(window_s=2.0, hop_s=0.5), log, lambda: 0)
    spatial = Spatial(geometry(array), warn=listener.warn)
    listener.on_frames = spatial.on_frames
    listener.on_info(len(audio), rate, sample_format, 0, "wave")
    step = round(chunk_s * rate)
    out = []
    for k, start in enumerate(range(0, audio.shape[1], step)):
        piece = audio[:, start:start + step]
        data = (encode_s16le(piece.T.ravel()) if sample_format == "S16LE"
                else piece.T.astype("<f4").tobytes())
        if k not in skip:  # a message lost on the way: its stamp leaves a hole
            listener.accept(data, START_NS + round(start * 1e9 / rate))
        while (window := listener.stream.take()[0]) is not None:
            out.append((spatial.hear(window.audio, window.stamp_ns), window))
    return spatial, out


@pytest.mark.parametrize("array, truth", [("respeaker_4mic", 60.0), ("respeaker_6mic", -120.0)])
def test_each_window_finds_the_source_in_its_loud_frames(array, truth):
    audio = room(array, [(truth, noise_bursts(6.0, 1, [(1.0, 1.6), (3.0, 3.5), (4.5, 5.2)]))])
    spatial, heard = stream(audio, array)
    found = [h.locate(h.loud) for h, _ in heard]
    directions = [f.direction for f in found if f.direction is not None]
    assert len(directions) >= len(found) * 0.7
    assert max(error_deg(d, truth) for d in directions) < 10
    assert spatial.counts["with_direction"] == len(directions)
    first = heard[0][0]
    assert first.audio.shape == (geometry(array).count, 32000)
    assert first.model_audio().shape == (32000,) and np.isfinite(first.model_audio()).all()


def test_the_window_read_back_is_the_listeners_window_after_a_lost_message():
    """Aligned by stamp, not by index: a lost message shifts the listener's indices (it runs
    on without a hole) and the array's window must follow its stamps."""
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((4, 5 * RATE))).astype(np.float32)
    spatial, heard = stream(audio, "respeaker_4mic", skip={12})
    assert heard
    spans = 0
    for h, window in heard:
        # the listener's mono is the mean of the very channels read back
        assert np.allclose(h.audio.mean(axis=0), window.audio, atol=1e-4)
        start = round((window.stamp_ns - START_NS) * RATE / 1e9)
        if start + len(window.audio) <= 1.2 * RATE or start >= 1.3 * RATE:
            expected = np.round(audio[:, start:start + len(window.audio)] * 32767) / 32767
            assert np.allclose(h.audio, expected, atol=1e-4)
        else:  # a window over the hole: both stamped from its newer side, as the listener does
            spans += 1
    assert 0 < spans < len(heard)


def test_48_khz_input_is_resampled_and_still_located():
    import soxr

    at16 = room("respeaker_4mic", [(150.0, noise_bursts(5.0, 2, [(1.0, 4.0)]))])
    at48 = soxr.resample(at16.T, RATE, 48000).T.astype(np.float32)
    _, heard = stream(at48, "respeaker_4mic", rate=48000)
    directions = [h.locate(h.loud).direction for h, _ in heard]
    assert sum(d is not None for d in directions) >= len(directions) // 2
    assert all(error_deg(d, 150.0) < 10 for d in directions if d is not None)


def test_a_channel_count_that_is_not_the_arrays_is_counted_and_the_downmix_heard():
    audio = room("respeaker_4mic", [(60.0, noise_bursts(3.0, 3))])[:2]  # a stereo stream
    spatial, heard = stream(audio, "respeaker_4mic")
    assert spatial.counts["channel_mismatch"] == 30
    for h, window in heard:
        assert h.audio is None and h.model_audio() is window.audio
        assert h.locate(h.loud).direction is None


def test_a_dead_channel_is_left_out_and_counted():
    audio = room("respeaker_6mic", [(30.0, noise_bursts(5.0, 4, [(1.0, 1.6), (3.0, 3.6)]))])
    audio[4] = 0.0
    spatial, heard = stream(audio, "respeaker_6mic")
    assert spatial.counts["windows_dead_channel"] == len(heard) > 0
    directions = [h.locate(h.loud).direction for h, _ in heard]
    assert sum(d is not None for d in directions) >= 3
    assert all(error_deg(d, 30.0) < 15 for d in directions if d is not None)


def test_a_nan_channel_is_left_out_of_the_direction_and_the_beam():
    """The listener drops a message holding NaN (bad_not_finite) before its hook sees it; the
    array's own reading still leaves such a channel out should one reach it."""
    audio = room("respeaker_4mic", [(-45.0, noise_bursts(3.0, 5, [(0.5, 1.5)]))])
    audio[1] = np.nan
    spatial = Spatial(geometry("respeaker_4mic"))
    spatial.on_frames(audio, RATE, START_NS)
    mono = np.nanmean(audio[:, :32000], axis=0)
    heard = spatial.hear(mono, START_NS)
    assert spatial.counts["windows_nan_channel"] == 1
    assert np.isfinite(heard.model_audio()).all()
    found = heard.locate(heard.loud)
    assert found.direction is not None and error_deg(found.direction, -45.0) < 15
    assert found.dropped == ("channel 1: NaN or infinity",)


def test_the_noise_floor_follows_the_room_not_the_sounds():
    floor = NoiseFloor(seconds=10.0)
    step = round(2.0 * 1e9)  # windows of 62 frames, one after the other
    quiet = np.full(62, -60.0)
    for k in range(4):
        assert floor.update(quiet, k * step) == pytest.approx(-60.0)
    loud = quiet.copy()
    loud[:20] = -20.0  # a third of a window loud: the floor stays
    assert floor.update(loud, 4 * step) == pytest.approx(-60.0)
    for k in range(5, 12):  # the room got louder for good: the floor rises with it
        value = floor.update(np.full(62, -40.0), k * step)
    assert value == pytest.approx(-40.0)
    # the same frames again (overlapping windows) are counted once
    count = len(floor.levels)
    floor.update(np.full(62, -40.0), 11 * step)
    assert len(floor.levels) == count
