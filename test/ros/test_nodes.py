"""The sound_events and speaker_id nodes as users run them, fed real audio over DDS."""
import math
import time

import numpy as np
import pytest

from ros_harness import AudioSource, NodeProcess  # skips this module without ROS
from audio_common_msgs.msg import AudioDataStamped
from degram_ros.msg import SoundEvents, SpeakerId
from synthetic import make_clip

HOP_NS = 250_000_000


def scene() -> np.ndarray:
    """2 s of each: low tone, noise, high tone."""
    return np.concatenate([make_clip(label, 2.0, seed=20 + i)
                           for i, label in enumerate(["low", "noise", "high"])])


def events_params(checkpoint, **changes):
    params = {"checkpoint": str(checkpoint), "window_s": 1.0, "hop_s": 0.25, "top_k": 2,
              "threshold": 0.2, "device": "auto"}
    params.update(changes)
    return params


@pytest.fixture
def sound_events(bus, trained_checkpoint, tmp_path, request):
    changes = getattr(request, "param", {})
    node = NodeProcess("sound_events", events_params(trained_checkpoint, **changes), tmp_path)
    bus.listen(SoundEvents, "/sound_events")
    bus.clear("/sound_events")
    bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped")
    time.sleep(0.5)  # discovery is mutual: let the node's side match our publisher too
    yield node
    assert node.stop() == 0, node.output()


def wait_quiet(bus, topic, quiet_s=1.5, timeout=30):
    """Wait until `topic` has received nothing new for `quiet_s`."""
    deadline, count, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(bus.messages(topic))
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since > quiet_s:
            return bus.messages(topic)
        time.sleep(0.1)
    return bus.messages(topic)


def ns(msg_stamp) -> int:
    return msg_stamp.sec * 1_000_000_000 + msg_stamp.nanosec


def test_sound_events_labels_and_stamps(bus, sound_events):
    source = AudioSource(bus)
    t0 = source.play(scene())
    events = wait_quiet(bus, "/sound_events")
    assert len(events) >= 15, sound_events.output()  # 21 windows; a few may be skipped under load
    starts = [ns(e.header.stamp) - t0 for e in events]
    # Windows start at the first sample the node heard (best effort may lose the very first
    # chunks during discovery) and then every hop; each stamp is its first sample's capture time.
    assert starts[0] % 100_000_000 == 0 and 0 <= starts[0] <= 1_000_000_000, starts
    assert all((s - starts[0]) % HOP_NS == 0 and s <= 5 * 10 ** 9 for s in starts), starts
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for event, start in zip(events, starts):
        assert event.header.frame_id == "test_mic"
        assert (event.window.sec, event.window.nanosec) == (1, 0)
        assert event.model.startswith("degram-resnet-tiny")
        assert [e.score for e in event.events] == sorted((e.score for e in event.events), reverse=True)
        for e in event.events:  # mono input: no direction, NaN rather than 0 (straight ahead)
            assert math.isnan(e.azimuth) and math.isnan(e.direction_confidence), e
            assert math.isnan(e.direction.point.x) and e.direction.header.frame_id == "test_mic"
        segment, offset = divmod(start, 2_000_000_000)  # 2 s of each of low, noise, high
        if offset <= 1_000_000_000:  # the window lies wholly inside one segment
            expected = ["low", "noise", "high"][segment]
            assert event.events and event.events[0].label == expected, (start, event.events)
    labels = [e.events[0].label for e in events if e.events]
    assert labels.index("low") < labels.index("noise") < labels.index("high")
    diag = bus.wait_for(lambda: bus.diagnostics("sound_events: inference"), what="diagnostics")
    assert int(diag["windows_processed"]) + int(diag["windows_skipped"]) >= len(events)
    assert float(diag["latency_mean_ms"]) >= 0 and "real_time_factor" in diag


@pytest.mark.parametrize("sound_events", [{"audio_reliability": "reliable"}], indirect=True)
def test_bad_input_is_counted_and_dropped_and_the_node_goes_on(bus, sound_events):
    source = AudioSource(bus)
    name = "sound_events: inference"

    def counter(key):
        diag = bus.diagnostics(name)
        return int(diag.get(key, 0)) if diag else 0

    def expect(key, at_least=1):
        bus.wait_for(lambda: counter(key) >= at_least, timeout=10, what=f"{key} >= {at_least}")
        assert sound_events.alive(), sound_events.output()

    source.send_bytes(b"")
    expect("bad_empty")
    source.send_bytes(b"\x01\x02\x03")
    expect("bad_odd_length")
    source.set_info(16000, "MP3")
    time.sleep(0.5)
    source.send_bytes(b"\x00" * 3200)
    expect("bad_unsupported_format")
    source.set_info(16000, "F32LE")
    time.sleep(0.5)
    source.send_bytes(np.array([0.1, np.nan] * 800, "<f4").tobytes())
    expect("bad_not_finite")
    source.set_info(16000, "S16LE")
    time.sleep(0.5)
    source.send_bytes(b"\x00" * (10 * 1024 * 1024))  # 10 MB: 327 s of audio in one message
    expect("bad_too_long")
    assert counter("bad_messages") >= 5

    # a sample-rate change mid-stream is resampled, logged and counted
    source.set_info(44100)
    time.sleep(0.5)
    clip = make_clip("high", 1.5, rate=44100, seed=3)
    source.play(clip, rate=44100)
    expect("rate_changes")
    source.set_info(16000)
    time.sleep(0.5)

    # a burst of 1,000 messages at once
    burst = make_clip("noise", 10.0, seed=4)
    for start in range(0, len(burst), 160):
        source.send_bytes(np.round(burst[start:start + 160] * 32767).astype("<i2").tobytes())
        source.next_ns += 10_000_000
    time.sleep(1.0)
    assert sound_events.alive(), sound_events.output()

    # stamps going backwards start a new stream
    source.next_ns -= 60 * 10 ** 9
    bus.clear("/sound_events")
    t0 = source.play(make_clip("low", 2.0, seed=5))
    expect("stream_restarts")

    # ... and the good audio after all that is still classified, with its own stamps
    events = wait_quiet(bus, "/sound_events")
    fresh = [e for e in events if ns(e.header.stamp) >= t0]
    assert fresh and all(ns(e.header.stamp) - t0 <= 10 ** 9 for e in fresh)
    assert fresh[0].events[0].label == "low" and ns(fresh[0].header.stamp) == t0
    assert "dropped an audio message" in sound_events.output()


@pytest.mark.parametrize("problem", ["missing", "corrupt"])
def test_bad_checkpoint_stops_startup_with_one_line(tmp_path, problem):
    path = tmp_path / "model.pt"
    if problem == "corrupt":
        path.write_bytes(b"this is not a checkpoint" * 100)
    node = NodeProcess("sound_events", {"checkpoint": str(path)}, tmp_path)
    node.process.wait(timeout=60)
    assert node.process.returncode == 2
    fatal = [line for line in node.output().splitlines() if "FATAL" in line]
    assert len(fatal) == 1, node.output()
    assert str(path) in fatal[0] and "parameter 'checkpoint'" in fatal[0]


def test_speaker_id_gates_silence_and_names_the_speaker(bus, trained_checkpoint, tmp_path):
    # an empty gallery of its own: the closed set of the checkpoint's labels, whatever a
    # gallery in this machine's home holds
    node = NodeProcess("speaker_id", {"checkpoint": str(trained_checkpoint), "window_s": 1.0,
                                      "hop_s": 0.5, "threshold": 0.5, "min_rms_db": -45.0,
                                      "min_speech_fraction": 0.0,  # tones: the VAD gate off
                                      "gallery": str(tmp_path / "gallery.json")},
                       tmp_path)
    try:
        bus.listen(SpeakerId, "/speaker_id")
        bus.clear("/speaker_id")  # results of earlier tests are not this node's
        bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped")
        time.sleep(0.5)
        source = AudioSource(bus, start_ns=2_000_000_000_000)
        audio = np.concatenate([np.zeros(32000, np.float32), make_clip("high", 2.0, seed=9)])
        t0 = source.play(audio)
        results = wait_quiet(bus, "/speaker_id")
        starts = [ns(r.header.stamp) - t0 for r in results]
        assert results, node.output()
        # a window wholly inside the 2 s of silence ends by 2 s: it is attributed to nobody
        assert all(s + 1_000_000_000 > 2_000_000_000 for s in starts), starts
        for result, start in zip(results, starts):
            if start >= 2_000_000_000:
                assert result.speaker == "high" and result.score >= 0.5
                assert result.candidate_labels[0] == "high" and len(result.candidate_scores) == 3
            assert math.isnan(result.azimuth) and math.isnan(result.elevation)
        diag = bus.wait_for(lambda: bus.diagnostics("speaker_id: inference"), what="diagnostics")
        assert int(diag["windows_gated"]) >= 2
    finally:
        assert node.stop() == 0


def test_two_nodes_in_two_namespaces_each_hear_only_their_own(bus, trained_checkpoint, tmp_path):
    # Names are relative: __ns:= moves every topic of a node, a remap points one input elsewhere.
    a = NodeProcess("sound_events", events_params(trained_checkpoint), tmp_path,
                    namespace="/robot_a")
    b = NodeProcess("sound_events", events_params(trained_checkpoint), tmp_path,
                    namespace="/robot_b", remap={"audio/audio_stamped": "mic2/audio_stamped"})
    try:
        for topic in ("/robot_a/sound_events", "/robot_b/sound_events"):
            bus.listen(SoundEvents, topic)
            bus.clear(topic)
        sources = {"/robot_a": AudioSource(bus, "/robot_a/audio/audio_stamped"),
                   "/robot_b": AudioSource(bus, "/robot_b/mic2/audio_stamped")}
        for source in sources.values():
            bus.wait_for_subscriber(AudioDataStamped, source.topic)
        time.sleep(0.5)
        sources["/robot_a"].play(make_clip("low", 2.0, seed=61))
        sources["/robot_b"].play(make_clip("high", 2.0, seed=62))
        heard = {ns_: [e.events[0].label for e in wait_quiet(bus, f"{ns_}/sound_events") if e.events]
                 for ns_ in sources}
        assert heard["/robot_a"] and set(heard["/robot_a"]) == {"low"}, (heard, a.output())
        assert heard["/robot_b"] and set(heard["/robot_b"]) == {"high"}, (heard, b.output())
        assert "/robot_b/mic2/audio_stamped" in b.output()  # its start-up line names the input
    finally:
        assert a.stop() == 0, a.output()
        assert b.stop() == 0, b.output()
