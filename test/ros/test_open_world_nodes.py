"""Hear only what is there, through the installed nodes over real DDS: a background window
publishes an empty event list, never a `background` event; the voice-activity gate keeps
speaker_id quiet on non-speech and reports voice activity for every window; and the shipped
models stay silent on digital silence, DC offset, clipping, a 1 kHz tone and full-scale white
noise, while espeak-ng speech passes the gate and, with nobody enrolled, is "unknown"."""
import time

import numpy as np
import pytest

from ros_harness import PREFIX, AudioSource, NodeProcess  # skips this module without ROS
from audio_common_msgs.msg import AudioDataStamped
from degram_core import build_model, load_checkpoint, save_checkpoint
from degram_ros.msg import SoundEvents, SpeakerId, VoiceActivity
from synthetic import LABELS, make_clip, speak
from test_nodes import ns, wait_quiet

RATE = 16000
SECOND = 1_000_000_000


def installed_config(node: str, **changes) -> dict:
    """The parameters `ros2 launch` would give: the installed config/<node>.yaml."""
    import yaml

    text = (PREFIX / "share" / "degram_ros" / "config" / f"{node}.yaml").read_text()
    return {**yaml.safe_load(text)["/**"]["ros__parameters"], **changes}


def inside(messages, start_ns, end_ns, window_ns):
    """The messages whose window lies wholly inside [start, end)."""
    return [m for m in messages if start_ns <= ns(m.header.stamp) and
            ns(m.header.stamp) + window_ns <= end_ns]


@pytest.fixture
def background_checkpoint(trained_checkpoint, tmp_path):
    """The fixture model with its `noise` class renamed `background`."""
    data = load_checkpoint(trained_checkpoint)
    model = build_model(data["model"], data["num_classes"], **data["config"])
    model.load_state_dict(data["state_dict"])
    path = tmp_path / "with_background.pt"
    save_checkpoint(path, model, [("background" if label == "noise" else label) for label in LABELS])
    return path


def test_background_windows_publish_an_empty_list_and_never_background(bus, background_checkpoint,
                                                                        tmp_path):
    node = NodeProcess("sound_events", {"checkpoint": str(background_checkpoint), "window_s": 1.0,
                                        "hop_s": 0.25, "top_k": 3, "threshold": 0.0}, tmp_path)
    try:
        bus.listen(SoundEvents, "/sound_events")
        bus.clear("/sound_events")
        bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped")
        time.sleep(0.5)
        scene = np.concatenate([make_clip(label, 2.0, seed=70 + i)
                                for i, label in enumerate(["low", "noise", "high"])])
        t0 = AudioSource(bus, start_ns=3_000 * SECOND).play(scene)
        events = wait_quiet(bus, "/sound_events")
        assert events, node.output()
        # threshold 0 and top_k 3: without the rule every window would name all three classes
        assert all(e.label != "background" for m in events for e in m.events)
        quiet = inside(events, t0 + 2 * SECOND, t0 + 4 * SECOND, SECOND)
        assert quiet and all(m.events == [] for m in quiet), [m.events for m in quiet]
        loud = inside(events, t0, t0 + 2 * SECOND, SECOND)
        assert loud and all(m.events[0].label == "low" for m in loud)
        diag = bus.wait_for(lambda: bus.diagnostics("sound_events: inference"), what="diagnostics")
        assert int(diag["windows_quiet"]) >= len(quiet)
    finally:
        assert node.stop() == 0


def test_the_gate_keeps_tones_from_being_a_speaker_and_voice_activity_goes_out(
        bus, trained_checkpoint, tmp_path):
    # The fixture model names tones as "speakers" (closed set); the gate must stop that.
    node = NodeProcess("speaker_id", {"checkpoint": str(trained_checkpoint), "window_s": 1.0,
                                      "hop_s": 0.5, "threshold": 0.0, "min_speech_fraction": 0.3,
                                      "gallery": str(tmp_path / "g.json")}, tmp_path)
    try:
        bus.listen(SpeakerId, "/speaker_id")
        bus.listen(VoiceActivity, "/voice_activity")
        bus.clear("/speaker_id")
        bus.clear("/voice_activity")
        bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped")
        time.sleep(0.5)
        t0 = AudioSource(bus, start_ns=4_000 * SECOND).play(make_clip("high", 3.0, seed=5))
        activity = wait_quiet(bus, "/voice_activity")
        assert len(activity) >= 3, node.output()
        assert all(not a.speech and a.speech_fraction < 0.3 for a in activity)
        assert all(ns(a.header.stamp) >= t0 for a in activity)
        assert [m for m in bus.messages("/speaker_id") if ns(m.header.stamp) >= t0] == []
        diag = bus.wait_for(lambda: bus.diagnostics("speaker_id: inference"), what="diagnostics")
        assert int(diag["windows_gated"]) >= 3
    finally:
        assert node.stop() == 0


def test_a_missing_vad_model_stops_startup_with_one_line(trained_checkpoint, tmp_path):
    missing = tmp_path / "nowhere" / "vad.onnx"
    node = NodeProcess("speaker_id", {"checkpoint": str(trained_checkpoint),
                                      "vad_model": str(missing),
                                      "gallery": str(tmp_path / "g.json")}, tmp_path)
    node.process.wait(timeout=60)
    assert node.process.returncode == 2
    fatal = [line for line in node.output().splitlines() if "FATAL" in line]
    assert len(fatal) == 1 and str(missing) in fatal[0] and "'vad_model'" in fatal[0], node.output()


# --- the shipped models (share/degram_ros/models, config defaults) -----------------------

def signals():
    t = np.arange(4 * RATE) / RATE
    rng = np.random.default_rng(0)
    return {
        "digital silence": np.zeros(4 * RATE, np.float32),
        "DC offset": np.full(4 * RATE, 0.3, np.float32),
        "clipping": np.clip(4 * rng.standard_normal(4 * RATE), -1, 1).astype(np.float32),
        "1 kHz tone": (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32),
        "white noise at full scale": rng.uniform(-1, 1, 4 * RATE).astype(np.float32),
    }


@pytest.fixture(scope="module")
def shipped(bus, tmp_path_factory):
    """Both nodes with their shipped defaults, heard once through every signal in turn."""
    tmp = tmp_path_factory.mktemp("shipped")
    nodes = [NodeProcess("sound_events", installed_config("sound_events"), tmp),
             NodeProcess("speaker_id", installed_config("speaker_id", gallery=str(tmp / "e.json")),
                         tmp)]
    try:
        for msg, topic in ((SoundEvents, "/sound_events"), (SpeakerId, "/speaker_id"),
                           (VoiceActivity, "/voice_activity")):
            bus.listen(msg, topic)
            bus.clear(topic)
        bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped")
        bus.wait_for(lambda: bus.diagnostics("speaker_id: inference") and
                     bus.diagnostics("sound_events: inference"), timeout=60, what="both nodes")
        time.sleep(0.5)
        source = AudioSource(bus, start_ns=5_000 * SECOND)
        spans = {}
        # A lead-in nobody judges (6 s, real time): a node's stream starts at the first chunk it hears, which
        # best effort may deliver a little after our first.
        source.play(np.zeros(6 * RATE, np.float32), speed=1.0)
        speech = speak("Good morning. Could you please open the door and bring me my keys? "
                       "Thank you very much.", tmp / "speech.wav")
        for name, audio in [*signals().items(), ("speech", speech)]:
            start = source.play(audio, speed=1.0)  # real time: no window skipped under load
            spans[name] = (start, source.next_ns)
        for topic in ("/sound_events", "/voice_activity"):
            wait_quiet(bus, topic, quiet_s=2.0, timeout=60)
        yield spans, nodes
    finally:
        for node in nodes:
            assert node.stop() == 0, node.output()


@pytest.mark.parametrize("name", sorted(signals()))
def test_shipped_models_hear_nothing_in(bus, shipped, name):
    spans, nodes = shipped
    start, end = spans[name]
    windows = inside(bus.messages("/sound_events"), start, end, 2 * SECOND)
    assert len(windows) >= 3, nodes[0].output()
    assert all(m.events == [] for m in windows), [[(e.label, e.score) for e in m.events]
                                                  for m in windows]
    activity = inside(bus.messages("/voice_activity"), start, end, 2 * SECOND)
    assert len(activity) >= 3 and not any(a.speech for a in activity), nodes[1].output()
    assert inside(bus.messages("/speaker_id"), start, end, 2 * SECOND) == []


def test_shipped_speaker_model_hears_speech_and_knows_nobody_yet(bus, shipped):
    spans, nodes = shipped
    start, end = spans["speech"]
    activity = inside(bus.messages("/voice_activity"), start, end, 2 * SECOND)
    assert activity and np.mean([a.speech for a in activity]) >= 0.5, nodes[1].output()
    named = inside(bus.messages("/speaker_id"), start, end, 2 * SECOND)
    # an embedding model trained on strangers names nobody until people are enrolled
    assert named and all(m.speaker == "unknown" for m in named), [m.speaker for m in named]


def test_enrollment_from_the_room_keeps_only_speech_and_refuses_too_little(bus, tmp_path):
    from test_enrollment import Services

    gallery = tmp_path / "room.json"
    node = NodeProcess("speaker_id", installed_config("speaker_id", gallery=str(gallery)),
                       tmp_path, node_name="room_id")
    try:
        bus.wait_for(lambda: bus.diagnostics("room_id: inference"), timeout=90,
                     what="room_id started")
        services = Services(bus, "room_id")
        source = AudioSource(bus, start_ns=6_000 * SECOND)
        t = np.arange(3 * RATE) / RATE
        source.play((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), speed=4.0)
        time.sleep(1.0)
        refused = services.enroll("ada", recent_seconds=2.5)
        assert not refused.success and "of speech" in refused.message, refused.message
        speech = speak("My name is Ada. I live here and I would like the robot to know my voice.",
                       tmp_path / "ada.wav")
        source.play(np.concatenate([np.zeros(RATE, np.float32), speech]), speed=4.0)
        time.sleep(1.0)
        seconds = len(speech) / RATE + 1.0
        reply = services.enroll("ada", recent_seconds=seconds)
        assert reply.success and reply.clips == 1, reply.message
        # the second from the start was silence: it was left out
        said = float(reply.message.split(" s of speech")[0].split()[-1])
        assert said < seconds - 1.0, reply.message
        again = services.enroll("ada", recent_seconds=seconds)
        assert again.success and again.clips == 2  # re-enrolling adds to the centroid
        assert services.list() == {"ada": 2}
    finally:
        assert node.stop() == 0, node.output()
