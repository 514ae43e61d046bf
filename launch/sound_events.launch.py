"""ros2 launch degram_ros sound_events.launch.py [params_file:=...]"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    config = os.path.join(get_package_share_directory("degram_ros"), "config", "sound_events.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=config,
                              description="parameters of the sound_events node"),
        Node(package="degram_ros", executable="sound_events", name="sound_events",
             parameters=[LaunchConfiguration("params_file")], output="screen"),
    ])
