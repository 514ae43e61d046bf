"""Node defaults come from one place: each node's declared parameters and its config/*.yaml
name the same parameters with the same values (the YAML documents what `ros2 run` without it
would do), and the inference nodes' audio defaults are the listener's."""
import pytest
import yaml

import ros_harness  # noqa: F401  (skips this module without ROS)
from ros_harness import PREFIX  # noqa: F401
from degram_core.runtime.listener import ListenerConfig
from degram_ros import file_player_node, microphone_node
from degram_ros.sound_events_node import SoundEventsNode
from degram_ros.speaker_id_node import SpeakerIdNode
from test_launch_files import ROOT


def declared(node: str) -> dict:
    if node == "sound_events":
        return {k: d for k, (d, _) in SoundEventsNode.parameters().items()}
    if node == "speaker_id":
        return {k: d for k, (d, _) in SpeakerIdNode.parameters().items()}
    module = {"microphone": microphone_node, "file_player": file_player_node}[node]
    return {k: d for k, (d, _) in module.PARAMETERS.items()}


@pytest.mark.parametrize("node", ["sound_events", "speaker_id", "microphone", "file_player"])
def test_the_config_file_and_the_declared_defaults_agree(node):
    config = yaml.safe_load((ROOT / "config" / f"{node}.yaml").read_text())
    assert config["/**"]["ros__parameters"] == declared(node)


def test_the_inference_nodes_listen_with_the_listeners_defaults():
    listener = ListenerConfig()
    for node in ("sound_events", "speaker_id"):
        defaults = declared(node)
        for key in ("window_s", "hop_s", "sample_rate", "channels", "sample_format",
                    "coding_format", "max_message_s"):
            assert defaults[key] == getattr(listener, key), (node, key)
