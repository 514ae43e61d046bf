"""degram_ros: ROS 2 nodes around degram_core. Under colcon this folder is installed into the
package that rosidl generates, beside its `msg` and `srv` modules."""
