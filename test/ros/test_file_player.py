"""The file_player node as users run it: a real wav file decoded by libsndfile, published over
real DDS in audio_common's layout, received by the test's own rclpy node."""
import numpy as np
import pytest
import soundfile

from ros_harness import LATCHED, NodeProcess  # skips this module without ROS
from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
from synthetic import make_clip

RATE = 16000
CHUNK = 1600  # 0.1 s


def ns(msg_stamp) -> int:
    return msg_stamp.sec * 1_000_000_000 + msg_stamp.nanosec


@pytest.fixture
def wav(tmp_path):
    """2.05 s of real-looking audio: the last chunk is a short one (800 frames)."""
    clip = np.concatenate([make_clip("low", 1.0, seed=41), make_clip("noise", 1.05, seed=42)])
    path = tmp_path / "clip.wav"
    soundfile.write(path, clip, RATE, subtype="PCM_16")
    return path


def test_plays_the_file_sample_exact_with_capture_stamps(bus, wav, tmp_path):
    prefix = "/fp_test/audio"
    bus.listen(AudioDataStamped, f"{prefix}/audio_stamped", qos=100)
    bus.listen(AudioData, f"{prefix}/audio", qos=100)
    bus.clear(f"{prefix}/audio_stamped")
    bus.clear(f"{prefix}/audio")
    node = NodeProcess("file_player", {"file": str(wav), "rate_factor": 4.0, "chunk_s": 0.1,
                                       "loop": False, "frame_id": "fp_frame",
                                       "start_delay_s": 1.5}, tmp_path,
                       namespace=prefix.rsplit("/", 1)[0])
    try:
        bus.wait_for(lambda: "finished" in node.output(), timeout=60, what="'finished' logged")
        expected = soundfile.read(wav, dtype="int16")[0]
        messages = bus.wait_for(
            lambda: (lambda m: m if sum(len(x.audio.data) for x in m) >= 2 * len(expected) else None)(
                bus.messages(f"{prefix}/audio_stamped")), timeout=10, what="every chunk")
        # the samples: the file's, bit for bit, in order, nothing lost or repeated
        received = np.frombuffer(b"".join(bytes(m.audio.data) for m in messages), "<i2")
        np.testing.assert_array_equal(received, expected)
        assert [len(m.audio.data) for m in messages] == [2 * CHUNK] * 20 + [2 * 800]
        # the stamps: capture time of each chunk's first sample, exactly one chunk apart
        stamps = [ns(m.header.stamp) for m in messages]
        assert all(b - a == 100_000_000 for a, b in zip(stamps, stamps[1:])), stamps
        assert {m.header.frame_id for m in messages} == {"fp_frame"}
        # the unstamped topic carries the same bytes
        plain = bus.wait_for(lambda: len(bus.messages(f"{prefix}/audio")) >= len(messages) and
                             bus.messages(f"{prefix}/audio"), timeout=10, what="plain audio")
        assert b"".join(bytes(m.data) for m in plain) == received.tobytes()

        # AudioInfo is latched: a subscriber arriving after the whole file still gets it
        bus.listen(AudioInfo, f"{prefix}/audio_info", LATCHED)
        info = bus.wait_for(lambda: bus.messages(f"{prefix}/audio_info"), timeout=20,
                            what="latched AudioInfo")[-1]
        assert (info.sample_rate, info.channels, info.sample_format) == (RATE, 1, "S16LE")
        # not looping: the node stays up after the end, and Ctrl-C stops it cleanly
        assert node.alive(), node.output()
    finally:
        assert node.stop() == 0, node.output()


def test_stereo_44k_float_file_keeps_its_rate_and_channels(bus, tmp_path):
    prefix = "/fp_stereo/audio"
    left, right = make_clip("high", 0.5, rate=44100, seed=43), make_clip("low", 0.5, rate=44100, seed=44)
    path = tmp_path / "stereo.flac"
    soundfile.write(path, np.stack([left, right], axis=1), 44100, subtype="PCM_24")
    bus.listen(AudioDataStamped, f"{prefix}/audio_stamped", qos=100)
    bus.listen(AudioInfo, f"{prefix}/audio_info", LATCHED)
    node = NodeProcess("file_player", {"file": str(path), "rate_factor": 4.0,
                                       "start_delay_s": 1.5}, tmp_path,
                       namespace=prefix.rsplit("/", 1)[0])
    try:
        bus.wait_for(lambda: "finished" in node.output(), timeout=60, what="'finished' logged")
        info = bus.wait_for(lambda: bus.messages(f"{prefix}/audio_info"), what="AudioInfo")[-1]
        assert (info.sample_rate, info.channels) == (44100, 2)
        messages = bus.wait_for(lambda: (lambda m: m if sum(len(x.audio.data) for x in m)
                                         >= 4 * len(left) else None)(
            bus.messages(f"{prefix}/audio_stamped")), timeout=10, what="every chunk")
        frames = np.frombuffer(b"".join(bytes(m.audio.data) for m in messages), "<i2").reshape(-1, 2)
        reference = soundfile.read(path, dtype="float32")[0]
        # 24-bit rounded to 16: within one step of 16-bit PCM, channels interleaved in order
        assert np.abs(frames / 32767.0 - reference).max() <= 1.5 / 32767
        stamps = [ns(m.header.stamp) for m in messages]
        assert all(b - a == 100_000_000 for a, b in zip(stamps, stamps[1:]))  # 4410 frames
    finally:
        assert node.stop() == 0, node.output()


def test_missing_file_stops_startup_with_one_line_naming_it(tmp_path):
    path = tmp_path / "no_such_clip.wav"
    node = NodeProcess("file_player", {"file": str(path)}, tmp_path)
    node.process.wait(timeout=60)
    assert node.process.returncode == 2, node.output()
    fatal = [line for line in node.output().splitlines() if "FATAL" in line]
    assert len(fatal) == 1, node.output()
    assert str(path) in fatal[0] and "parameter 'file'" in fatal[0]
    assert "Traceback" not in node.output()
