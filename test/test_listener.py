"""The listener (runtime/listener.py), the audio side of both inference nodes, without ROS:
AudioInfo, codings, drops and their counters, stamps of unstamped audio, frames of every
channel, MP3 restarts, health. Windows and their stamps: test_stream.py."""
import numpy as np
import pytest

from degram_core.runtime.codecs import BadAudio, encode_s16le
from degram_core.runtime.listener import Listener, ListenerConfig
from test_stream import SECOND, T0, Log, node_listener, signal


def test_an_audio_info_sets_the_format_and_a_bad_one_drops_audio_until_a_good_one():
    ear = node_listener()
    ear.on_info(2, 8000, "S16LE", 256000, "wave")
    stereo = np.stack([signal(0.5, 8000), np.zeros(4000, np.float32)], axis=1)
    ear.accept(encode_s16le(stereo.reshape(-1)), T0)
    assert ear.stats["rate_changes"] == 1 and 6000 < ear.stream.written <= 8000  # 0.5 s
    # (resampled; soxr holds back a few ms)
    ear.on_info(1, 16000, "S24LE", 0, "wave")  # no such sample format: refused, adopted
    ear.accept(b"\x00" * 600, T0 + SECOND)
    assert ear.bad["audio_info"] == 1 and ear.bad["unsupported_format"] == 1
    assert ear.health(0.0, 3.0)[0] == "OK"  # not running yet
    ear.running = True
    level, why = ear.health(0.0, 3.0)
    assert level == "ERROR" and "unsupported_format" in why
    ear.on_info(1, 16000, "S16LE", 0, "wave")
    ear.accept(encode_s16le(signal(0.1, 16000)), T0 + 2 * SECOND)
    assert ear.health(0.0, 3.0) == ("OK", "running")
    figures = ear.figures()[0]
    assert figures["bad_messages"] == "2" and figures["bad_audio_info"] == "1"


def test_a_coding_we_cannot_decode_is_said_once_and_its_messages_counted():
    ear = node_listener()
    ear.on_info(1, 16000, "S16LE", 0, "opus")
    for _ in range(3):
        ear.accept(b"\x00" * 320, T0)
    assert ear.bad["unsupported_coding"] == 3 and ear.stream.written == 0
    assert [text for level, text in ear.log.lines if level == "error"] == [
        "AudioInfo: unsupported_coding: cannot decode coding_format 'opus' (wave and mp3 only): "
        "launch audio_capture with format:=wave"]
    with pytest.raises(BadAudio):  # a setting, before any AudioInfo: the node names it
        Listener(16000, ListenerConfig(coding_format="flac"), Log(), lambda: T0)


def test_unstamped_audio_is_stamped_on_arrival_as_captured_its_duration_ago():
    ear = node_listener(now_ns=lambda: T0 + SECOND)
    ear.accept(encode_s16le(signal(1.0, 16000)), None)
    window, _ = ear.stream.take()
    assert window.stamp_ns == T0  # arrived at T0 + 1 s, 1 s long


def test_every_channel_reaches_on_frames_and_the_model_hears_their_mean():
    seen = []
    ear = Listener(16000, ListenerConfig(window_s=1.0, hop_s=0.25), Log(), lambda: T0,
                   on_frames=lambda frames, rate, stamp: seen.append((frames, rate, stamp)))
    ear.on_info(4, 16000, "F32LE", 0, "wave")
    frames = np.random.default_rng(0).uniform(-0.5, 0.5, (4, 16000)).astype(np.float32)
    ear.accept(np.ascontiguousarray(frames.T).tobytes(), T0)  # interleaved, as on the wire
    (got, rate, stamp), = seen
    np.testing.assert_array_equal(got, frames)  # (channels, samples), kept apart
    assert (rate, stamp) == (16000, T0)
    np.testing.assert_allclose(ear.stream.take()[0].audio, frames.mean(axis=0), atol=1e-6)


def test_mp3_stamps_that_jump_start_a_new_stream_with_a_decoder_of_its_own():
    from lame import lame_buffers

    ear = Listener(16000, ListenerConfig(window_s=1.0, hop_s=0.25, coding_format="mp3"), Log(),
                   lambda: T0)
    buffers = lame_buffers(signal(2.0, 16000))
    for data, pts in buffers:
        ear.accept(data, T0 + pts)
    first = ear.mp3
    assert ear.stream.written > 16000 and ear.stats["stream_restarts"] == 0
    for data, pts in buffers[:10]:  # the capture restarted: stamps back at T0
        ear.accept(data, T0 + pts)
    assert ear.stats["stream_restarts"] == 1 and ear.mp3 is not first
    assert ear.stream.written < 16000  # the new stream only
    ear.accept(buffers[10][0], T0 + 3600 * SECOND)  # an hour ahead: a new stream too
    assert ear.stats["stream_restarts"] == 2
