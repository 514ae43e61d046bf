"""Fixtures of the ROS tests; the harness itself is ros_harness.py."""
import pytest


@pytest.fixture(scope="session")
def bus():
    """The test process's rclpy node, spinning in the background for the whole session."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    from ros_harness import Bus

    rclpy.init()
    bus = Bus()
    bus.listen(DiagnosticArray, "/diagnostics")
    yield bus
    bus.close()
    rclpy.try_shutdown()
