"""Taught sounds in the installed sound_events node, over real DDS: ~/teach, ~/forget, ~/list
(the gallery services speaker_id enrolls voices with), a taught sound published like a built-in
event with `taught` set, refusals that leave the node running, and `classes`."""
import time
from pathlib import Path

import numpy as np
import pytest

from ros_harness import AudioSource, NodeProcess  # skips this module without ROS
from audio_common_msgs.msg import AudioDataStamped
from degram_ros.msg import SoundEvents
from test_enrollment import Services
from test_nodes import wait_quiet

ROOT = Path(__file__).resolve().parents[2]
RATE = 16000


def beeper(seconds: float, seed: int) -> np.ndarray:
    """An appliance's beep: 0.2 s tones of 2.4 kHz with harmonics, every 0.5 s, over faint noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 2400 * k * t) / k for k in (1, 2, 3))
    gate = ((t + rng.uniform(0, 0.5)) % 0.5) < 0.2
    return (0.2 * tone * gate + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture
def sound_topic(bus):
    bus.listen(SoundEvents, "/sound_events")
    bus.clear("/sound_events")
    yield "/sound_events"
    bus.clear("/sound_events")


def test_teach_a_sound_hear_it_named_and_refuse_bad_requests(bus, tmp_path, sound_topic):
    gallery = tmp_path / "sounds.json"
    params = {"checkpoint": str(ROOT / "models" / "sound_events.pt"), "gallery": str(gallery),
              "classes": "dog"}
    node = NodeProcess("sound_events", params, tmp_path)
    services = Services(bus, "sound_events", add="teach")
    try:
        for count, seed in enumerate((1, 2), start=1):
            reply = services.enroll("beeper", beeper(3.0, seed))  # through ~/teach
            assert reply.success and reply.clips == count, reply.message
        assert services.list() == {"beeper": 2}
        for name, audio, reason in (("quiet", np.zeros(2 * RATE, np.float32), "sound"),
                                    ("short", beeper(0.2, 5), "too little"),
                                    ("Dog", beeper(2.0, 6), "built-in")):
            reply = services.enroll(name, audio)
            assert not reply.success and reason in reply.message, (name, reply.message)
        assert node.alive(), node.output()

        bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped")
        time.sleep(0.5)
        bus.clear("/sound_events")
        AudioSource(bus).play(beeper(4.0, seed=9))
        results = wait_quiet(bus, "/sound_events")
        events = [e for r in results for e in r.events]
        taught = [e for e in events if e.taught]
        assert taught and all(e.label == "beeper" and e.class_id == -1 for e in taught), events
        # `classes: dog` keeps every other built-in class out; taught sounds always come
        assert all(e.taught or e.label == "dog" for e in events), events

        assert services.forget("beeper").success
        assert not services.forget("beeper").success
    finally:
        services.close()
        assert node.stop() == 0, node.output()


def test_classes_the_model_does_not_know_stop_startup(tmp_path):
    params = {"checkpoint": str(ROOT / "models" / "sound_events.pt"),
              "gallery": str(tmp_path / "sounds.json"), "classes": "dog,unicorn"}
    node = NodeProcess("sound_events", params, tmp_path)
    node.process.wait(timeout=60)
    assert node.process.returncode == 2, node.output()
    fatal = [line for line in node.output().splitlines() if "FATAL" in line]
    assert len(fatal) == 1 and "unicorn" in fatal[0], node.output()
