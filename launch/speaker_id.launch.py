"""ros2 launch degram_ros speaker_id.launch.py [namespace:=robot1] [audio_topic:=...]
[audio_info_topic:=...] [params_file:=...]

The node's names are relative: it subscribes <namespace>/audio/audio_stamped and
<namespace>/audio/audio_info, publishes <namespace>/speaker_id and serves
<namespace>/speaker_id/enroll (forget, list), so audio_common's capture.launch.xml (ns audio)
and this file meet with no arguments at all."""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    config = os.path.join(get_package_share_directory("degram_ros"), "config", "speaker_id.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
        DeclareLaunchArgument("params_file", default_value=config,
                              description="parameters of the speaker_id node"),
        DeclareLaunchArgument("audio_topic", default_value="audio/audio_stamped",
                              description="input audio (AudioDataStamped), relative to the namespace"),
        DeclareLaunchArgument("audio_info_topic", default_value="audio/audio_info",
                              description="input AudioInfo, relative to the namespace"),
        Node(package="degram_ros", executable="speaker_id", name="speaker_id",
             namespace=LaunchConfiguration("namespace"),
             parameters=[LaunchConfiguration("params_file")],
             remappings=[("audio/audio_stamped", LaunchConfiguration("audio_topic")),
                         ("audio/audio_info", LaunchConfiguration("audio_info_topic"))],
             output="screen"),
    ])
