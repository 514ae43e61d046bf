"""The inference nodes as lifecycle (managed) nodes, driven through their lifecycle services
as a lifecycle manager would; and their live parameters, set through the parameter services
as `ros2 param set` would."""
import time


from ros_harness import AudioSource, NodeProcess  # skips this module without ROS
from audio_common_msgs.msg import AudioDataStamped
from degram_ros.msg import SoundEvents
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from synthetic import make_clip
from test_nodes import events_params, wait_quiet


class Managed:
    """Clients of one node's lifecycle and parameter services."""

    def __init__(self, bus, node: str):
        self.bus = bus
        self.change = bus.node.create_client(ChangeState, f"{node}/change_state")
        self.get = bus.node.create_client(GetState, f"{node}/get_state")
        self.set = bus.node.create_client(SetParameters, f"{node}/set_parameters")
        for client in (self.change, self.get, self.set):
            assert client.wait_for_service(timeout_sec=30), client.srv_name

    def call(self, client, request):
        future = client.call_async(request)
        self.bus.wait_for(future.done, timeout=60, what=f"a reply from {client.srv_name}")
        return future.result()

    def state(self) -> str:
        return self.call(self.get, GetState.Request()).current_state.label

    def transition(self, transition_id: int) -> bool:
        return self.call(self.change, ChangeState.Request(
            transition=Transition(id=transition_id))).success

    def set_parameter(self, name, value):
        result = self.call(self.set, SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()])).results[0]
        return result.successful, result.reason

    def close(self):
        for client in (self.change, self.get, self.set):
            self.bus.node.destroy_client(client)


def heard(bus, source, topic, label="low", seed=90):
    bus.clear(topic)
    source.play(make_clip(label, 1.5, seed=seed))
    return wait_quiet(bus, topic, quiet_s=1.5)


def test_transitions_through_the_lifecycle_services(bus, trained_checkpoint, tmp_path):
    node = NodeProcess("sound_events", events_params(trained_checkpoint, autostart=False),
                       tmp_path, namespace="/lc")
    topic = "/lc/sound_events"
    managed = None
    try:
        bus.listen(SoundEvents, topic)
        managed = Managed(bus, "/lc/sound_events")
        source = AudioSource(bus, "/lc/audio/audio_stamped")
        assert managed.state() == "unconfigured"
        assert managed.transition(Transition.TRANSITION_CONFIGURE)
        assert managed.state() == "inactive"
        # inactive: the model is loaded, nothing is subscribed, nothing is published
        assert "degram-resnet-tiny" in node.output()
        time.sleep(1.0)
        assert not [s for s in bus.node.get_subscriptions_info_by_topic("/lc/audio/audio_stamped")
                    if s.node_name == "sound_events"]
        assert not heard(bus, source, topic), "an inactive node published"

        assert managed.transition(Transition.TRANSITION_ACTIVATE)
        assert managed.state() == "active"
        bus.wait_for_subscriber(AudioDataStamped, source.topic)
        time.sleep(0.5)
        results = heard(bus, source, topic, seed=91)
        assert results and results[-1].events[0].label == "low", node.output()

        assert managed.transition(Transition.TRANSITION_DEACTIVATE)
        assert managed.state() == "inactive"
        assert not heard(bus, source, topic, seed=92), "a deactivated node published"
        diag = bus.wait_for(lambda: (lambda d: d if d and d["state"] == "inactive" else None)(
            bus.diagnostics("sound_events: inference")), what="inactive diagnostics")
        assert diag

        # activated again: nothing until new audio comes (it used to publish again the last
        # window it had published before it was deactivated)
        bus.clear(topic)
        assert managed.transition(Transition.TRANSITION_ACTIVATE)
        time.sleep(1.5)
        assert not bus.messages(topic), "published a window it had published before"
        assert managed.transition(Transition.TRANSITION_DEACTIVATE)

        # cleanup frees the model; configure + activate bring it back
        assert managed.transition(Transition.TRANSITION_CLEANUP)
        assert managed.state() == "unconfigured"
        assert managed.transition(Transition.TRANSITION_CONFIGURE)
        assert managed.transition(Transition.TRANSITION_ACTIVATE)
        bus.wait_for_subscriber(AudioDataStamped, source.topic)
        time.sleep(0.5)
        results = heard(bus, source, topic, label="high", seed=93)
        assert results and results[-1].events[0].label == "high", node.output()
        assert node.alive()
    finally:
        if managed:
            managed.close()
        assert node.stop() == 0, node.output()


def test_configure_failure_is_one_line_and_the_node_waits(bus, tmp_path):
    missing = tmp_path / "no_model.pt"
    node = NodeProcess("sound_events", {"checkpoint": str(missing), "autostart": False},
                       tmp_path, namespace="/lc_bad")
    managed = Managed(bus, "/lc_bad/sound_events")
    try:
        assert not managed.transition(Transition.TRANSITION_CONFIGURE)
        assert managed.state() == "unconfigured" and node.alive()
        errors = [line for line in node.output().splitlines() if "ERROR" in line]
        assert len(errors) == 1 and str(missing) in errors[0], node.output()
        assert "parameter 'checkpoint'" in errors[0] and "Traceback" not in node.output()
    finally:
        managed.close()
        assert node.stop() == 0, node.output()


def test_live_parameters_take_effect_and_bad_values_are_refused(bus, trained_checkpoint, tmp_path):
    node = NodeProcess("sound_events", events_params(trained_checkpoint, top_k=3, threshold=0.0),
                       tmp_path, namespace="/lp")
    topic = "/lp/sound_events"
    managed = Managed(bus, "/lp/sound_events")
    try:
        bus.listen(SoundEvents, topic)
        source = AudioSource(bus, "/lp/audio/audio_stamped")
        bus.wait_for_subscriber(AudioDataStamped, source.topic)
        time.sleep(0.5)
        results = heard(bus, source, topic)
        assert results and all(len(r.events) == 3 for r in results)  # threshold 0: top_k of them

        assert managed.set_parameter("top_k", 1) == (True, "")
        results = heard(bus, source, topic, seed=94)
        assert results and all(len(r.events) == 1 for r in results), [len(r.events) for r in results]
        assert managed.set_parameter("threshold", 1.0)[0]  # nothing scores above 1
        results = heard(bus, source, topic, seed=95)
        assert results and all(not r.events for r in results)

        for name, value in (("threshold", 1.5), ("threshold", -1.5), ("threshold", float("nan")),
                            ("top_k", 0), ("threshold", "high")):
            ok, reason = managed.set_parameter(name, value)
            assert not ok and reason, (name, value)
        # configure-only parameters are read-only
        ok, reason = managed.set_parameter("window_s", 2.0)
        assert not ok and "read-only" in reason.lower(), reason
        # the refused values changed nothing: still threshold 1.0, top_k 1
        assert managed.set_parameter("threshold", 0.0)[0]
        results = heard(bus, source, topic, seed=96)
        assert results and all(len(r.events) == 1 for r in results)
        assert node.alive()
    finally:
        managed.close()
        assert node.stop() == 0, node.output()


def test_speaker_id_live_parameters_have_their_ranges(bus, trained_checkpoint, tmp_path):
    node = NodeProcess("speaker_id", {"checkpoint": str(trained_checkpoint),
                                      "gallery": str(tmp_path / "gallery.json")},
                       tmp_path, namespace="/lp_speaker")
    managed = Managed(bus, "/lp_speaker/speaker_id")
    try:
        for name, value in (("similarity_threshold", 3.5), ("min_rms_db", -60.0),
                            ("threshold", 0.7), ("top_k", 2)):
            assert managed.set_parameter(name, value) == (True, ""), (name, value)
        for name, value in (("similarity_threshold", 150.0), ("min_rms_db", 3.0),
                            ("similarity_threshold", float("nan"))):
            ok, reason = managed.set_parameter(name, value)
            assert not ok and name in reason, (name, value, reason)
        for name in ("gallery", "checkpoint", "hop_s"):
            assert not managed.set_parameter(name, "x" if name != "hop_s" else 0.1)[0], name
        log = node.output()
        assert "similarity_threshold now 3.5" in log and "min_rms_db now -60.0" in log, log
    finally:
        managed.close()
        assert node.stop() == 0, node.output()
