"""The microphone node recording a clip played into a PulseAudio null sink, end to end to
/sound_events: real PulseAudio, real PortAudio (PyAudio), real DDS."""
import os
import shutil
import subprocess
import time

import numpy as np
import pytest
import soundfile

from ros_harness import LATCHED, NodeProcess  # skips this module without ROS
from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
from degram_ros.msg import SoundEvents
from synthetic import make_clip

TOOLS = ("pulseaudio", "pacat", "paplay")


class VirtualMicrophone(dict):
    """The environment a PulseAudio client needs, and the server (a test may pull it away)."""

    def __init__(self, env: dict, server: subprocess.Popen):
        super().__init__(env)
        self.server = server


@pytest.fixture
def virtual_microphone(tmp_path):
    """A private PulseAudio server whose default source is a null sink's monitor: what is
    played into the sink is what a microphone on it records."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"{missing} missing: `make test` installs pulseaudio and pulseaudio-utils"
    (tmp_path / "xdg").mkdir()
    socket = tmp_path / "native"
    config = tmp_path / "default.pa"
    config.write_text(
        f"load-module module-native-protocol-unix auth-anonymous=1 socket={socket}\n"
        "load-module module-null-sink sink_name=vsink rate=16000 channels=1\n"
        "set-default-sink vsink\nset-default-source vsink.monitor\n")
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "xdg"), "PULSE_SERVER": f"unix:{socket}",
           "HOME": str(tmp_path)}
    full_env = {**os.environ, **env}
    log = open(tmp_path / "pulseaudio.log", "w")
    server = subprocess.Popen(["pulseaudio", "-n", "-F", str(config), "--exit-idle-time=-1",
                               "--daemonize=no", "--log-target=stderr"],
                              stdout=log, stderr=subprocess.STDOUT, env=full_env)
    processes = [server]
    try:
        deadline = time.monotonic() + 20
        while not socket.exists():
            assert server.poll() is None, (tmp_path / "pulseaudio.log").read_text()
            assert time.monotonic() < deadline, "PulseAudio did not start"
            time.sleep(0.1)
        # PulseAudio runs an idle null sink slow; a silent stream keeps it clocked.
        processes.append(subprocess.Popen(
            ["pacat", "-p", "-d", "vsink", "--raw", "--rate=16000", "--channels=1",
             "--format=s16le", "--latency-msec=20", "/dev/zero"], env=full_env))
        yield VirtualMicrophone(env, server=server)
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def test_microphone_to_sound_events(bus, trained_checkpoint, tmp_path, virtual_microphone):
    env = virtual_microphone
    clip = np.concatenate([make_clip("low", 2.0, seed=31), np.zeros(8000, np.float32),
                           make_clip("high", 2.0, seed=32)])
    wav = tmp_path / "scene.wav"
    soundfile.write(wav, clip, 16000, subtype="PCM_16")

    bus.listen(AudioInfo, "audio/audio_info", LATCHED)
    bus.listen(AudioData, "audio/audio")
    bus.listen(AudioDataStamped, "audio/audio_stamped")
    bus.listen(SoundEvents, "/sound_events")
    bus.clear("/sound_events")
    microphone = NodeProcess("microphone", {"device": "pulse", "sample_rate": 16000, "channels": 1,
                                            "chunk": 1600, "frame_id": "vmic"}, tmp_path, env=env)
    events_node = NodeProcess("sound_events", {"checkpoint": str(trained_checkpoint),
                                               "window_s": 1.0, "hop_s": 0.25, "threshold": 0.3},
                              tmp_path)
    try:
        info = bus.wait_for(lambda: bus.messages("audio/audio_info"), timeout=30,
                            what="latched AudioInfo")[-1]
        assert (info.sample_rate, info.channels, info.sample_format) == (16000, 1, "S16LE")
        bus.wait_for(lambda: len(bus.messages("audio/audio_stamped")) > 5, timeout=30,
                     what="captured audio")
        assert bus.messages("audio/audio")  # the unstamped copy, as audio_common publishes it
        chunk = bus.messages("audio/audio_stamped")[-1]
        assert chunk.header.frame_id == "vmic" and len(chunk.audio.data) == 3200
        bus.wait_for(lambda: bus.messages("/sound_events"), timeout=30, what="first window")
        time.sleep(1.0)  # PortAudio's first read may lag ~1 s; let capture settle
        played_at = len(bus.messages("/sound_events"))
        subprocess.run(["paplay", "--latency-msec=20", "-d", "vsink", str(wav)], env={**os.environ, **env},
                       check=True, timeout=60)
        time.sleep(2.0)
        heard = [e.events[0].label for e in bus.messages("/sound_events")[played_at:] if e.events]
        assert "low" in heard and "high" in heard, (heard, events_node.output())
        first_low, last_high = heard.index("low"), len(heard) - 1 - heard[::-1].index("high")
        assert first_low < last_high
        assert microphone.alive() and events_node.alive()
    finally:  # both stopped before either is judged: a failed assert must not leak one
        codes = events_node.stop(), microphone.stop()
        assert codes == (0, 0), (codes, events_node.output(), microphone.output())


def test_a_microphone_whose_device_is_gone_stops_with_a_reason(bus, tmp_path, virtual_microphone):
    """Every read fails once the sound server is gone: the node must say so and exit (status 1,
    for a launch file's respawn) rather than spin on the error."""
    bus.listen(AudioDataStamped, "audio/audio_stamped")
    bus.clear("audio/audio_stamped")  # chunks of an earlier test's microphone are no proof
    microphone = NodeProcess("microphone", {"device": "pulse", "sample_rate": 16000, "channels": 1,
                                            "chunk": 1600, "frame_id": "gone"}, tmp_path,
                             env=virtual_microphone)
    try:
        bus.wait_for(lambda: [m for m in bus.messages("audio/audio_stamped")
                              if m.header.frame_id == "gone"], timeout=30, what="first chunk")
        virtual_microphone.server.kill()
        deadline = time.monotonic() + 30
        while microphone.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not microphone.alive(), microphone.output()
        assert microphone.process.returncode == 1, microphone.output()
        assert "capture stopped" in microphone.output()
    finally:
        microphone.stop()
