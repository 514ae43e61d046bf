"""Our nodes on audio as ros-drivers/audio_common 0.4 publishes it: MP3 from lamemp3enc (its
default `format`), AudioInfo transient local (the 0.4.0 release) or volatile and re-sent (its
ros2 branch), an empty frame_id; a coding we cannot decode refused, counted and explained."""
import time

import numpy as np

from ros_harness import LATCHED, AudioSource, NodeProcess, stamp  # skips without ROS
from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
from degram_ros.msg import SoundEvents
from diagnostic_msgs.msg import DiagnosticStatus
from lame import lame_buffers
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header
from synthetic import make_clip
from test_nodes import events_params, ns, wait_quiet

T0 = 3_000_000_000_000
VOLATILE = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


def scene() -> np.ndarray:
    return np.concatenate([make_clip(label, 2.0, seed=70 + i)
                           for i, label in enumerate(["high", "noise", "low"])])


def info(coding: str) -> AudioInfo:
    # what audio_capture says for format mp3: the coding, and sample_format still S16LE
    return AudioInfo(channels=1, sample_rate=16000, sample_format="S16LE", bitrate=128,
                     coding_format=coding)


def publish_mp3(bus, topic, buffers, speed=4.0):
    """The appsink's buffers, one message each, stamped as captured; frame_id empty."""
    publisher = bus.publisher(AudioDataStamped, topic)
    for data, pts in buffers:
        publisher.publish(AudioDataStamped(header=Header(stamp=stamp(T0 + pts), frame_id=""),
                                           audio=AudioData(data=data)))
        time.sleep(0.036 / speed)


def test_mp3_input_gives_the_events_of_the_wav_input(bus, trained_checkpoint, tmp_path):
    audio = scene()
    buffers = lame_buffers(audio)
    # the 0.4.0 release: AudioInfo latched, published before our node exists
    bus.publisher(AudioInfo, "/mp3/audio/audio_info", LATCHED).publish(info("mp3"))
    params = events_params(trained_checkpoint, audio_reliability="reliable")
    nodes = {name: NodeProcess("sound_events", params, tmp_path, namespace=f"/{name}")
             for name in ("wav", "mp3")}
    try:
        for name in nodes:
            bus.listen(SoundEvents, f"/{name}/sound_events")
            bus.clear(f"/{name}/sound_events")
            bus.wait_for_subscriber(AudioDataStamped, f"/{name}/audio/audio_stamped")
        time.sleep(1.0)
        bus.wait_for(lambda: "audio coding now mp3" in nodes["mp3"].output(), timeout=20,
                     what="the latched AudioInfo")
        # one after the other: two models at once on two cores would skip windows
        AudioSource(bus, "/wav/audio/audio_stamped", start_ns=T0).play(audio, speed=4.0)
        wav = wait_quiet(bus, "/wav/sound_events")
        publish_mp3(bus, "/mp3/audio/audio_stamped", buffers)
        mp3 = wait_quiet(bus, "/mp3/sound_events")
        assert len(wav) >= 15 and len(mp3) >= 15, (len(wav), len(mp3), nodes["mp3"].output())
        top = {name: {ns(e.header.stamp): e.events[0].label if e.events else None for e in events}
               for name, events in (("wav", wav), ("mp3", mp3))}
        # the same timeline: decoded sample n is captured sample n, so the windows start at
        # the same stamps, on the hop grid from the first message's stamp
        common = sorted(set(top["wav"]) & set(top["mp3"]))
        assert len(common) >= 15, (sorted(top["wav"]), sorted(top["mp3"]))
        assert all((s - T0) % 250_000_000 == 0 for s in top["mp3"]), sorted(top["mp3"])
        same = sum(top["wav"][s] == top["mp3"][s] for s in common)
        assert same >= 0.9 * len(common), [(s - T0, top["wav"][s], top["mp3"][s]) for s in common]
        labels = [top["mp3"][s] for s in sorted(top["mp3"]) if top["mp3"][s]]
        assert labels.index("high") < labels.index("noise") < labels.index("low")
        # audio_capture sends no frame_id: said once, not per message
        log = nodes["mp3"].output()
        assert log.count("no header.frame_id") == 1, log
        assert all(e.header.frame_id == "" for e in mp3)
    finally:
        for node in nodes.values():
            assert node.stop() == 0, node.output()


def test_volatile_audio_info_and_an_undecodable_coding(bus, trained_checkpoint, tmp_path):
    # the ros2 branch: AudioInfo volatile, re-sent every few seconds (here every 0.5 s)
    node = NodeProcess("sound_events", events_params(trained_checkpoint, audio_timeout_s=1.0),
                       tmp_path, namespace="/flac", node_name="flac_events")
    publisher = bus.publisher(AudioInfo, "/flac/audio/audio_info", VOLATILE)
    try:
        bus.listen(SoundEvents, "/flac/sound_events")
        source = AudioSource(bus, "/flac/audio/audio_stamped")
        bus.wait_for_subscriber(AudioDataStamped, source.topic)
        for _ in range(6):
            publisher.publish(info("flac"))
            time.sleep(0.5)
        source.play(make_clip("low", 2.0, seed=80))
        diagnostics = lambda: bus.diagnostics("flac_events: inference")  # noqa: E731
        values = bus.wait_for(lambda: (lambda d: d if d and int(d.get("bad_unsupported_coding", 0))
                                       >= 15 else None)(diagnostics()), timeout=20,
                              what="refused messages counted")
        assert values["coding"] == "flac"
        status = bus.diagnostic_status("flac_events: inference")
        assert status.level == DiagnosticStatus.ERROR and "'flac'" in status.message, status
        assert not bus.messages("/flac/sound_events")  # nothing made of the bytes
        log = node.output()
        assert log.count("cannot decode coding_format 'flac'") == 1, log  # once, re-sent or not
        assert "launch audio_capture with format:=wave" in log
        # the publisher switches to wave: the node goes on, audio is heard again
        for _ in range(4):
            publisher.publish(info("wave"))
            time.sleep(0.5)
        source.play(make_clip("low", 2.0, seed=81))
        heard = wait_quiet(bus, "/flac/sound_events")
        assert heard and heard[-1].events[0].label == "low", node.output()
        # decodable again, then silent: no ERROR any more, but a WARN that no audio comes
        status = bus.wait_for(lambda: (lambda s: s if s and s.level == DiagnosticStatus.WARN
                                       else None)(bus.diagnostic_status("flac_events: inference")),
                              timeout=10, what="WARN for silence")
        assert "no audio for" in status.message and "/flac/audio/audio_stamped" in status.message
    finally:
        assert node.stop() == 0, node.output()
