"""The sound_events node with `backend: onnxruntime`: the labels the torch backend gives."""
import time

import pytest

from ros_harness import AudioSource, NodeProcess  # skips this module without ROS
from audio_common_msgs.msg import AudioDataStamped
from degram_core import load_model
from degram_core.runtime.export import export_model
from degram_ros.msg import SoundEvents
from test_nodes import events_params, ns, scene, wait_quiet


@pytest.fixture(params=["pt", "onnx"])
def sound_events(request, bus, trained_checkpoint, tmp_path):
    """The node on the .pt (exported to ONNX at start-up) or on a `degram export` .onnx file
    (which the torch backend refuses, so a pass proves onnxruntime ran)."""
    checkpoint = trained_checkpoint
    if request.param == "onnx":
        checkpoint = export_model(load_model(trained_checkpoint), tmp_path / "model.onnx")
    node = NodeProcess("sound_events", events_params(checkpoint, backend="onnxruntime"), tmp_path)
    bus.listen(SoundEvents, "/sound_events")
    bus.clear("/sound_events")
    # The subscription comes after the model: the export at start-up takes seconds.
    bus.wait_for_subscriber(AudioDataStamped, "audio/audio_stamped", timeout=90)
    time.sleep(0.5)  # discovery is mutual: let the node's side match our publisher too
    yield node
    assert node.stop() == 0, node.output()


def test_onnxruntime_backend_labels_a_scene(bus, sound_events):
    t0 = AudioSource(bus).play(scene())
    events = wait_quiet(bus, "/sound_events")
    assert len(events) >= 15, sound_events.output()  # 21 windows; a few may be skipped under load
    for event in events:
        assert event.model.startswith("degram-resnet-tiny")
        segment, offset = divmod(ns(event.header.stamp) - t0, 2_000_000_000)  # low, noise, high
        if offset <= 1_000_000_000:  # the window lies wholly inside one segment
            expected = ["low", "noise", "high"][segment]
            assert event.events and event.events[0].label == expected, (offset, event.events)
    labels = [e.events[0].label for e in events if e.events]
    assert labels.index("low") < labels.index("noise") < labels.index("high")


def test_invalid_backend_stops_startup_naming_the_parameter(trained_checkpoint, tmp_path):
    node = NodeProcess("sound_events", events_params(trained_checkpoint, backend="tensorrt"),
                       tmp_path)
    node.process.wait(timeout=60)
    assert node.process.returncode == 2
    fatal = [line for line in node.output().splitlines() if "FATAL" in line]
    assert len(fatal) == 1, node.output()
    assert "parameter 'backend'" in fatal[0] and "'tensorrt'" in fatal[0]
