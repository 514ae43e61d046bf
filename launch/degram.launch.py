"""ros2 launch degram_ros degram.launch.py [namespace:=robot1] [microphone:=false]
[audio_topic:=...] [audio_info_topic:=...]

microphone + sound_events + speaker_id in one namespace. With microphone:=false the two
inference nodes listen to another capture node, e.g. audio_common's
`ros2 launch audio_capture capture_wave.launch.xml` (ns audio, the default input here)."""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    config = os.path.join(get_package_share_directory("degram_ros"), "config")
    nodes = [("microphone", "microphone.yaml"), ("sound_events", "sound_events.yaml"),
             ("speaker_id", "speaker_id.yaml")]
    arguments = [DeclareLaunchArgument(f"{name}_params", default_value=os.path.join(config, yaml),
                                       description=f"parameters of the {name} node")
                 for name, yaml in nodes]
    arguments += [
        DeclareLaunchArgument("namespace", default_value="", description="namespace of all nodes"),
        DeclareLaunchArgument("microphone", default_value="true",
                              description="start our microphone node (false: audio comes from "
                                          "another capture node, e.g. audio_capture)"),
        DeclareLaunchArgument("audio_topic", default_value="audio/audio_stamped",
                              description="input audio (AudioDataStamped), relative to the namespace"),
        DeclareLaunchArgument("audio_info_topic", default_value="audio/audio_info",
                              description="input AudioInfo, relative to the namespace"),
    ]
    namespace = LaunchConfiguration("namespace")
    inputs = [("audio/audio_stamped", LaunchConfiguration("audio_topic")),
              ("audio/audio_info", LaunchConfiguration("audio_info_topic"))]
    microphone = Node(package="degram_ros", executable="microphone", name="microphone",
                      namespace=namespace, parameters=[LaunchConfiguration("microphone_params")],
                      remappings=inputs, output="screen",
                      condition=IfCondition(LaunchConfiguration("microphone")))
    return LaunchDescription(arguments + [microphone] + [
        Node(package="degram_ros", executable=name, name=name, namespace=namespace,
             parameters=[LaunchConfiguration(f"{name}_params")], remappings=inputs,
             output="screen")
        for name, _ in nodes[1:]
    ])
