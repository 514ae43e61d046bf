"""The faults of a fuzz run of the installed nodes (issue 13), each replayed over real DDS:
hostile service requests, a crowd of clients, a damaged checkpoint, absurd formats, floats
near float32's maximum, diverged weights, log floods and audio lost on the way."""
import array
import math
import threading
import time

import numpy as np
import pytest
import torch
from rclpy.qos import QoSProfile

from ros_harness import LATCHED, AudioSource, NodeProcess  # skips this module without ROS
from audio_common_msgs.msg import AudioDataStamped, AudioInfo
from degram_core import build_model, load_model, save_checkpoint
from degram_ros.msg import SoundEvents
from degram_ros.speaker_id_node import SERVICE_QUEUE_DEPTH
from degram_ros.srv import Enroll, ListSpeakers
from synthetic import make_clip
from test_checkpoint import flip_bytes_in_weights
from test_enrollment import Services, params
from test_nodes import events_params, ns, sound_events, wait_quiet  # noqa: F401 (a fixture)

EVENTS = "sound_events: inference"


@pytest.fixture
def speaker_id(bus, trained_checkpoint, tmp_path):
    gallery = tmp_path / "speakers.json"
    node = NodeProcess("speaker_id", params(trained_checkpoint, gallery), tmp_path)
    services = Services(bus)
    yield node, services, gallery
    services.close()
    assert node.stop() == 0, node.output()


def test_hostile_enroll_requests_are_refused_and_the_node_goes_on(speaker_id):
    node, services, gallery = speaker_id
    clip = make_clip("low", 1.0, seed=5)
    for request, reason in (
            # recent_seconds inf passed the >= 0.5 check; round(inf * rate) killed the node
            (dict(name="dan", recent_seconds=math.inf), "recent_seconds must be at least"),
            (dict(name="dan", recent_seconds=math.nan), "recent_seconds must be at least"),
            (dict(name="dan", recent_seconds=-1.0), "recent_seconds must be at least"),
            (dict(name="dan", recent_seconds=3e38), "only the last"),
            # 16,000 samples at 8 Hz were embedded as 2,000 s of audio
            (dict(name="dan", audio=clip, rate=8), "sample_rate must be 1000..384000"),
            (dict(name="dan", audio=clip, rate=1), "sample_rate must be 1000..384000"),
            (dict(name="dan", audio=clip, rate=4_000_000_000), "sample_rate must be"),
            (dict(name="dan", audio=make_clip("low", 31.0, seed=6)), "too much"),
            (dict(name="alice\n[ERROR] forged line", audio=clip), "printable"),
            (dict(name="x" * 1_000_000, audio=clip), "at most 64 characters")):
        reply = services.enroll(**request)
        shown = {k: (v if not hasattr(v, "__len__") or len(v) < 80 else f"{len(v)} items")
                 for k, v in request.items()}
        assert not reply.success and reason in reply.message, (shown, reply.message)
        assert node.alive(), node.output()
    # (A NUL cannot be sent from here: rclpy cuts "a\x00b" to "a" in the client, before it
    # reaches any node. Clients that do send one are refused by check_name, test_validate.py.)
    assert services.list() == {} and not gallery.exists()
    forgotten = services.forget("a\nb")
    assert not forgotten.success and "printable" in forgotten.message
    assert not any(line.startswith("[ERROR] forged") for line in node.output().splitlines())

    reply = services.enroll("dan", clip)  # and good requests are served as before
    assert reply.success and services.list() == {"dan": 1}, reply.message


def test_a_crowd_of_clients_all_get_answers(bus, speaker_id):
    node, services, _ = speaker_id
    clip = make_clip("high", 2.0, seed=7)
    # Every client's reader sees every reply of its service (rmw picks out its own when taking
    # them), so a client in a crowd needs a queue as deep as the server's too.
    queue = QoSProfile(depth=SERVICE_QUEUE_DEPTH)
    clients = ([(bus.node.create_client(Enroll, "/speaker_id/enroll", qos_profile=queue),
                 Enroll.Request(name=f"s{i}", audio=clip.tolist(), sample_rate=16000))
                for i in range(20)] +
               [(bus.node.create_client(ListSpeakers, "/speaker_id/list", qos_profile=queue),
                 ListSpeakers.Request()) for _ in range(20)])
    try:
        for client, request in clients:
            # One call each first: a reply proves the node has matched this client (a request
            # sent before that is lost, whatever the queue), and a refusal costs nothing.
            assert client.wait_for_service(timeout_sec=30)
            warm_up = type(request)() if isinstance(request, ListSpeakers.Request) else \
                Enroll.Request(name="")
            future = client.call_async(warm_up)
            bus.wait_for(future.done, timeout=30, what="a first reply")
        futures = [client.call_async(request) for client, request in clients]
        try:
            bus.wait_for(lambda: all(f.done() for f in futures), timeout=60, what="40 replies")
        except AssertionError:
            raise AssertionError(f"{sum(f.done() for f in futures)} of 40 requests answered "
                                 f"in 60 s") from None
        assert all(f.result().success for f in futures[:20])
        assert services.list() == {f"s{i}": 1 for i in range(20)}
    finally:
        for client, _ in clients:
            bus.node.destroy_client(client)
    assert node.alive(), node.output()


def test_enrollments_do_not_hold_up_the_audio_thread(bus, tmp_path):
    """While slow enrollments are served, the executor thread that takes audio (and runs the
    diagnostics timer beside it) keeps its beat. The model is made slow on purpose (a 0.25 ms
    hop): ~1 s per 30 s enrollment here, as a big model on a small robot would be."""
    slow = tmp_path / "slow.pt"
    save_checkpoint(slow, build_model("degram-resnet-tiny", 3, hop_length=4), ["a", "b", "c"])
    node = NodeProcess("speaker_id", params(slow, tmp_path / "speakers.json"), tmp_path)
    clip = array.array("f", make_clip("high", 30.0, seed=8).tobytes())
    client = bus.node.create_client(Enroll, "/speaker_id/enroll")
    arrivals, stop = [], threading.Event()

    def watch():
        seen = 0
        while not stop.is_set():
            count = sum(1 for array_ in bus.messages("/diagnostics") for s in array_.status
                        if s.name == "speaker_id: inference")
            if count > seen:
                seen = count
                arrivals.append(time.monotonic())
            time.sleep(0.02)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert client.wait_for_service(timeout_sec=30)
        bus.wait_for(lambda: len(arrivals) >= 2, what="diagnostics from speaker_id")
        started = time.monotonic()
        # five, not three: on an idle 2-core machine three took 3.6 s, too quick to show a stall
        futures = [client.call_async(Enroll.Request(name="long", audio=clip, sample_rate=16000))
                   for _ in range(5)]
        bus.wait_for(lambda: all(f.done() for f in futures), timeout=120, what="5 enrollments")
        took = time.monotonic() - started
        assert all(f.result().success for f in futures), [f.result().message for f in futures]
    finally:
        stop.set()
        watcher.join()
        bus.node.destroy_client(client)
        assert node.stop() == 0, node.output()
    gaps = np.diff([started] + [t for t in arrivals if started <= t <= started + took]
                   + [started + took])
    assert took > 4.0, took  # slow enough that a held-up executor would show
    assert gaps.max() < 1.8, (took, gaps)  # a status every second, enrollments or not


def test_a_damaged_checkpoint_stops_startup_with_one_line(trained_checkpoint, tmp_path):
    path = tmp_path / "damaged.pt"
    path.write_bytes(trained_checkpoint.read_bytes())
    member = flip_bytes_in_weights(path)
    node = NodeProcess("sound_events", events_params(path), tmp_path)
    node.process.wait(timeout=60)
    assert node.process.returncode == 2, node.output()
    fatal = [line for line in node.output().splitlines() if "FATAL" in line]
    assert len(fatal) == 1, node.output()
    assert str(path) in fatal[0] and "CRC" in fatal[0] and member in fatal[0], fatal[0]


def send_f32(source, audio, rate=16000):
    step = int(source.chunk_s * rate)
    for start in range(0, len(audio), step):
        piece = audio[start:start + step]
        source.send_bytes(piece.astype("<f4").tobytes())
        source.next_ns += round(len(piece) * 1e9 / rate)
        time.sleep(source.chunk_s / 8)


@pytest.mark.parametrize("sound_events", [{"audio_reliability": "reliable"}], indirect=True)
def test_formats_floats_floods_and_lost_audio(bus, sound_events):  # noqa: F811 (the fixture)
    source = AudioSource(bus)

    def counter(key):
        diag = bus.diagnostics(EVENTS)
        return diag.get(key, "0") if diag else "0"

    def expect(key, value):
        bus.wait_for(lambda: counter(key) == value, timeout=10, what=f"{key} == {value} "
                     f"(is {counter(key)})")
        assert sound_events.alive(), sound_events.output()

    # Audio that never arrived leaves a hole in the stamps: 2 s here, counted as lost.
    source.play(make_clip("low", 1.0, seed=1))
    source.next_ns += 2 * 10**9
    source.play(make_clip("low", 1.0, seed=2))
    expect("audio_gaps", "1")
    assert counter("lost_audio_s") == "2.000"

    # Two reasons in quick succession: each gets its own warning.
    source.send_bytes(b"")
    source.send_bytes(b"\x01\x02\x03")
    expect("bad_odd_length", "1")

    # Absurd formats are refused and counted; their audio is dropped, not misread.
    info = bus.publisher(AudioInfo, "audio/audio_info", LATCHED)
    for rate, channels in ((1, 1), (10**9, 1), (16000, 0)):
        info.publish(AudioInfo(channels=channels, sample_rate=rate, sample_format="S16LE"))
        time.sleep(0.3)
        source.send_bytes(b"\x00" * 20)
    expect("bad_audio_info", "3")
    expect("bad_unsupported_format", "3")

    # F32 samples near float32's maximum: finite results, not NaN.
    source.set_info(16000, "F32LE")
    time.sleep(0.5)
    bus.clear("/sound_events")
    t0 = source.next_ns
    square = np.sign(make_clip("high", 2.0, seed=3)).astype(np.float32) * np.float32(3e38)
    send_f32(source, square)
    events = [e for e in wait_quiet(bus, "/sound_events") if ns(e.header.stamp) >= t0]
    assert events, sound_events.output()
    assert all(e.events and all(math.isfinite(x.score) for x in e.events) for e in events)
    assert counter("inference_errors") == "0"

    # A flood of stamps going backwards: every one counted, the log not flooded.
    source.set_info(16000)
    time.sleep(0.5)
    chunk = (make_clip("noise", 0.01, seed=4) * 32767).astype("<i2").tobytes()
    for _ in range(300):
        source.next_ns -= 10**9
        source.send_bytes(chunk)
        time.sleep(0.002)
    bus.wait_for(lambda: int(counter("stream_restarts")) >= 250, timeout=10,
                 what=f"stream_restarts >= 250 (is {counter('stream_restarts')})")
    log = sound_events.output()
    assert "dropped an audio message: empty" in log and "dropped an audio message: odd_length" in log
    assert 1 <= log.count("audio stamps went backwards") <= 3, log.count("went backwards")


def test_diverged_weights_are_inference_errors_not_results(bus, trained_checkpoint, tmp_path):
    model = load_model(trained_checkpoint)
    with torch.no_grad():
        model.fc.weight.mul_(1e38)  # finite weights whose sums overflow: NaN scores
    path = tmp_path / "diverged.pt"
    save_checkpoint(path, model, model.labels)
    node = NodeProcess("sound_events", events_params(path), tmp_path)
    try:
        bus.listen(SoundEvents, "/sound_events")
        bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped")
        time.sleep(0.5)
        bus.clear("/sound_events")
        AudioSource(bus).play(make_clip("low", 2.0, seed=9))
        bus.wait_for(lambda: int((bus.diagnostics(EVENTS) or {}).get("inference_errors", 0)) >= 3,
                     what="inference errors counted")
        assert wait_quiet(bus, "/sound_events") == []  # nothing published, not even empty lists
        assert "inference failed: the model's output holds NaN or infinity" in node.output()
    finally:
        assert node.stop() == 0, node.output()
