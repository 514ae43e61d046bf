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


@pytest.fixture(autouse=True)
def sane_audio_info(request):
    """After each test, a usable AudioInfo on the latched audio/audio_info: a test that publishes
    an absurd one and then fails must not leave it latched for every later node."""
    yield
    if "bus" not in request.fixturenames:
        return
    from audio_common_msgs.msg import AudioInfo

    from ros_harness import LATCHED

    bus = request.getfixturevalue("bus")
    if (AudioInfo, "audio/audio_info") in bus.publishers:
        bus.publisher(AudioInfo, "audio/audio_info", LATCHED).publish(AudioInfo(
            channels=1, sample_rate=16000, sample_format="S16LE", bitrate=256000,
            coding_format="wave"))
