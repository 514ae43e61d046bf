"""Open-set speaker enrollment in the installed speaker_id node, over real DDS: the ~/enroll,
~/forget and ~/list services, identification against the gallery, refusals that leave the
node running, and a gallery that survives a restart."""
import array
import re
import time
from pathlib import Path

import numpy as np
import pytest

from ros_harness import AudioSource, NodeProcess  # skips this module without ROS
from audio_common_msgs.msg import AudioDataStamped
from degram_ros.msg import SpeakerId
from degram_ros.srv import Enroll, Forget, ListSpeakers
from synthetic import make_clip
from test_nodes import wait_quiet

# Synthetic "speakers" (the fixture model's classes): enrolled classes score ~0.99 against
# their own centroid, the other class ~0.2 and unenrolled noise ~0.1 (test_speakers.py).
THRESHOLD = 0.6


def params(checkpoint, gallery):
    return {"checkpoint": str(checkpoint), "gallery": str(gallery), "window_s": 1.0,
            "hop_s": 0.5, "top_k": 3, "min_rms_db": -200.0, "similarity_threshold": THRESHOLD,
            "min_speech_fraction": 0.0}  # synthetic "voices" are tones: the VAD gate off


class Services:
    """Clients of one node's private gallery services: speaker_id's, or (add="teach")
    sound_events' (degram_ros/gallery_services.py serves both)."""

    def __init__(self, bus, node_name="speaker_id", add="enroll"):
        self.bus, self.add = bus, add
        self.clients = {kind: bus.node.create_client(srv, f"/{node_name}/{kind}")
                        for kind, srv in ((add, Enroll), ("forget", Forget),
                                          ("list", ListSpeakers))}
        for kind, client in self.clients.items():
            assert client.wait_for_service(timeout_sec=30), f"no /{node_name}/{kind} service"

    def call(self, kind, request):
        future = self.clients[kind].call_async(request)
        self.bus.wait_for(future.done, timeout=60, what=f"a reply from {kind}")
        return future.result()

    def enroll(self, name, audio=None, rate=16000, recent_seconds=0.0):
        samples = array.array("f")
        if audio is not None:
            samples.frombytes(np.asarray(audio, dtype="<f4").tobytes())
        return self.call(self.add, Enroll.Request(name=name, audio=samples, sample_rate=rate,
                                                  recent_seconds=recent_seconds))

    def forget(self, name):
        return self.call("forget", Forget.Request(name=name))

    def list(self):
        reply = self.call("list", ListSpeakers.Request())
        return dict(zip(reply.names, reply.clips))

    def close(self):
        for client in self.clients.values():
            self.bus.node.destroy_client(client)


@pytest.fixture
def gallery_path(tmp_path):
    return tmp_path / "galleries" / "speakers.json"  # folder absent: created on first enrollment


@pytest.fixture
def speaker_topic(bus):
    """/speaker_id recorded for this test only: later tests of the session (test_nodes.py)
    read everything recorded on it, and must not see our windows."""
    bus.listen(SpeakerId, "/speaker_id")
    bus.clear("/speaker_id")
    yield "/speaker_id"
    bus.clear("/speaker_id")


def start(bus, checkpoint, gallery, tmp_path, run):
    node = NodeProcess("speaker_id", params(checkpoint, gallery), tmp_path / f"run{run}")
    services = Services(bus)
    return node, services


def test_enroll_identify_forget_and_survive_a_restart(bus, trained_checkpoint, gallery_path,
                                                     tmp_path, speaker_topic):
    for run in (1, 2):
        (tmp_path / f"run{run}").mkdir()
    node, services = start(bus, trained_checkpoint, gallery_path, tmp_path, 1)
    try:
        # Nothing heard yet: enrolling from recent audio is refused, the node goes on.
        reply = services.enroll("carol", recent_seconds=1.0)
        assert not reply.success and "no audio heard yet" in reply.message, reply.message
        assert not gallery_path.exists()

        for name, seeds in (("low", (1, 2)), ("high", (3, 4))):
            for count, seed in enumerate(seeds, start=1):
                reply = services.enroll(name, make_clip(name, 2.0, seed=seed))
                assert reply.success and reply.clips == count, reply.message
        assert services.list() == {"high": 2, "low": 2}
        assert gallery_path.exists()

        # Open set: windows of "high" audio are named high; noise nobody enrolled is unknown.
        bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped")
        time.sleep(0.5)  # discovery is mutual: let the node's side match our publisher too
        bus.clear("/speaker_id")
        source = AudioSource(bus)
        t0 = source.play(make_clip("high", 3.0, seed=30))
        results = wait_quiet(bus, "/speaker_id")
        assert len(results) >= 3, node.output()
        for result in results:
            assert result.speaker == "high" and result.score >= THRESHOLD, result
            assert list(result.candidate_labels) == ["high", "low"]
            assert result.candidate_scores[0] > result.candidate_scores[1]
        bus.clear("/speaker_id")
        source.play(make_clip("noise", 2.0, seed=31))
        results = wait_quiet(bus, "/speaker_id")
        # Windows wholly inside the noise start at least 3 s after the high tone began.
        noise_only = [r for r in results
                      if r.header.stamp.sec * 10**9 + r.header.stamp.nanosec - t0 >= 3 * 10**9]
        assert noise_only, [r.header.stamp for r in results]
        assert all(r.speaker == "unknown" and r.score < THRESHOLD for r in noise_only), noise_only

        # Enroll from what the node just heard: its last second is noise, so "carol" is now the
        # noise voice and the very noise windows that were unknown become hers.
        reply = services.enroll("carol", recent_seconds=1.0)
        assert reply.success and reply.clips == 1, reply.message
        bus.clear("/speaker_id")
        source.play(make_clip("noise", 2.0, seed=32))
        results = wait_quiet(bus, "/speaker_id")
        assert results and results[-1].speaker == "carol", results[-1]

        # Bad requests: success false with the reason; nothing changes, the node keeps going.
        for request, reason in (
                (dict(name="  ", audio=make_clip("low", 1.0, seed=5)), "non-empty name"),
                (dict(name="dan", audio=make_clip("low", 0.1, seed=5)), "too little"),
                (dict(name="dan", audio=make_clip("low", 1.0, seed=5), rate=0), "sample_rate"),
                (dict(name="dan", recent_seconds=600.0), "only the last"),
                (dict(name="dan", recent_seconds=0.0), "recent_seconds"),
                (dict(name="unknown", audio=make_clip("low", 1.0, seed=5)), "reserved")):
            reply = services.enroll(**request)
            assert not reply.success and reason in reply.message, (request, reply.message)
        assert node.alive(), node.output()

        forgotten = services.forget("low")
        assert forgotten.success, forgotten.message
        missing = services.forget("nobody")
        assert not missing.success and "nobody" in missing.message
        assert services.list() == {"carol": 1, "high": 2}
    finally:
        services.close()
        assert node.stop() == 0, node.output()

    # A new process reads the same file: the enrollments survived.
    node, services = start(bus, trained_checkpoint, gallery_path, tmp_path, 2)
    try:
        assert services.list() == {"carol": 1, "high": 2}
        assert "2 speaker(s), open set" in node.output()
    finally:
        services.close()
        assert node.stop() == 0, node.output()


def test_corrupt_gallery_stops_startup_naming_the_file(trained_checkpoint, tmp_path):
    gallery = tmp_path / "speakers.json"
    gallery.write_text('{"format": "degram-gallery", "speakers": ')
    node = NodeProcess("speaker_id", params(trained_checkpoint, gallery), tmp_path)
    node.process.wait(timeout=60)
    assert node.process.returncode == 2, node.output()
    fatal = [line for line in node.output().splitlines() if "FATAL" in line]
    assert len(fatal) == 1, node.output()
    assert str(gallery) in fatal[0] and "parameter 'gallery'" in fatal[0], fatal[0]
    assert gallery.read_text() == '{"format": "degram-gallery", "speakers": '  # kept as it was


def test_the_cli_and_the_node_enroll_the_same_centroid(bus, tmp_path):
    """One enrollment path: the same speech through `degram enroll` and through the node's
    ~/enroll gives the same centroid, each with its defaults (the shipped speaker model, the
    node's window, the model's voice-activity gate). With the shipped model, windows of 1 s
    instead of 2 s, or the whole clip embedded at once, give centroids at cosine ~0.99."""
    import json

    import soundfile

    from degram_core.cli import main
    from synthetic import speak

    speech = speak("Good morning. I would like to enroll my voice with this robot, please.",
                   tmp_path / "espeak.wav")
    wav = tmp_path / "speech.wav"
    soundfile.write(wav, speech, 16000, subtype="FLOAT")  # the very samples the service gets
    cli_gallery, node_gallery = tmp_path / "cli.json", tmp_path / "node.json"
    shipped = Path(__file__).resolve().parents[2] / "models" / "speaker_id.pt"
    assert main(["enroll", str(shipped), str(cli_gallery), "ann", str(wav), "--device", "cpu"]) == 0
    node = NodeProcess("speaker_id", {"gallery": str(node_gallery)}, tmp_path)
    services = Services(bus)
    try:
        reply = services.enroll("ann", speech)
        assert reply.success, reply.message
    finally:
        services.close()
        assert node.stop() == 0, node.output()
    centroids = [np.asarray(json.loads(path.read_text())["speakers"]["ann"]["centroid"])
                 for path in (cli_gallery, node_gallery)]
    assert float(centroids[0] @ centroids[1]) > 0.999
    # the voice-activity gate was on: the clip's pauses and silences are not speech
    speech_s, audio_s = map(float, re.search(r"from ([\d.]+) s of speech in ([\d.]+) s",
                                             reply.message).groups())
    assert 1.0 <= speech_s < audio_s, reply.message
