"""ros2 launch degram_ros degram.launch.py: microphone + sound events + speaker ID."""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    config = os.path.join(get_package_share_directory("degram_ros"), "config")
    nodes = [("microphone", "microphone.yaml"), ("sound_events", "sound_events.yaml"),
             ("speaker_id", "speaker_id.yaml")]
    arguments = [DeclareLaunchArgument(f"{name}_params", default_value=os.path.join(config, yaml),
                                       description=f"parameters of the {name} node")
                 for name, yaml in nodes]
    return LaunchDescription(arguments + [
        Node(package="degram_ros", executable=name, name=name,
             parameters=[LaunchConfiguration(f"{name}_params")], output="screen")
        for name, _ in nodes
    ])
