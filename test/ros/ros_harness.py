"""Real ROS 2 for the node tests: the installed executables started as `ros2 run` would start
them, and an rclpy node in the test process talking to them over DDS (shared memory).

Importing this module skips the importing test module, with the reason, where ROS 2 or the
built package is missing (plain `pytest` without `make test`)."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

# One DDS domain per test run, shared memory only, so parallel runs never hear each other;
# set before rclpy is imported.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "SHM")

rclpy = pytest.importorskip("rclpy", reason="the ROS tests run under `colcon test` (make test)")
try:
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    PREFIX = Path(get_package_prefix("degram_ros"))
    from degram_ros.msg import SoundEvents  # noqa: F401  (generated messages are installed)
except (ImportError, PackageNotFoundError) as error:
    pytest.skip(f"degram_ros is not built and sourced ({error}); run `make test`",
                allow_module_level=True)

from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from degram_core.runtime.codecs import encode_s16le  # noqa: E402

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


def executable(name: str) -> Path:
    return PREFIX / "lib" / "degram_ros" / name


class NodeProcess:
    """An installed node run with a YAML params file; stopped with SIGINT like Ctrl-C."""

    def __init__(self, name: str, params: dict, tmp_path: Path, node_name: str | None = None,
                 env: dict | None = None, namespace: str | None = None,
                 remap: dict | None = None):
        tag = f"{namespace.strip('/')}_" if namespace else ""
        self.params_file = tmp_path / f"{tag}{node_name or name}.yaml"
        self.params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
        self.log_path = tmp_path / f"{tag}{node_name or name}.log"
        self.log = open(self.log_path, "w")
        command = [str(executable(name)), "--ros-args", "--params-file", str(self.params_file)]
        if node_name:
            command += ["-r", f"__node:={node_name}"]
        if namespace:
            command += ["-r", f"__ns:={namespace}"]
        for old, new in (remap or {}).items():
            command += ["-r", f"{old}:={new}"]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})})

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        if not self.log.closed:  # also after stop(), so a failed assert can still show it
            self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


class Bus:
    """The test's own rclpy node: publishes audio, records what the nodes publish."""

    def __init__(self):
        self.node = rclpy.create_node(f"degram_test_{os.getpid()}")
        self.lock = threading.Lock()
        self.received: dict[str, list] = {}
        self.publishers = {}
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def listen(self, msg_type, topic: str, qos=10) -> None:
        """Record `topic` from now on; listening twice to a topic records each message once."""
        with self.lock:
            if topic in self.received:
                return
            self.received[topic] = []

        def store(msg):
            with self.lock:
                self.received[topic].append(msg)
        self.node.create_subscription(msg_type, topic, store, qos)

    def messages(self, topic: str) -> list:
        with self.lock:
            return list(self.received.get(topic, []))

    def clear(self, topic: str) -> None:
        with self.lock:
            self.received[topic] = []

    def publisher(self, msg_type, topic: str, qos=10):
        key = (msg_type, topic)
        if key not in self.publishers:
            self.publishers[key] = self.node.create_publisher(msg_type, topic, qos)
        return self.publishers[key]

    def wait_for_subscriber(self, msg_type, topic: str, timeout: float = 20.0, qos=10) -> None:
        """Until a node other than this one subscribes to `topic` (our own subscriptions, left
        by earlier tests, do not count)."""
        self.publisher(msg_type, topic, qos)
        name = topic if topic.startswith("/") else f"/{topic}"
        deadline = time.monotonic() + timeout
        while not any(info.node_name != self.node.get_name()
                      for info in self.node.get_subscriptions_info_by_topic(name)):
            assert time.monotonic() < deadline, f"nobody subscribed to {topic} in {timeout} s"
            time.sleep(0.05)

    def wait_for(self, condition, timeout: float = 20.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def diagnostic_status(self, status_name: str):
        """The newest /diagnostics status (DiagnosticStatus) with this name."""
        for array in reversed(self.messages("/diagnostics")):
            for status in array.status:
                if status.name == status_name:
                    return status
        return None

    def diagnostics(self, status_name: str) -> dict | None:
        """Key/values of the newest /diagnostics status with this name."""
        for array in reversed(self.messages("/diagnostics")):
            for status in array.status:
                if status.name == status_name:
                    return {kv.key: kv.value for kv in status.values}
        return None

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def stamp(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class AudioSource:
    """Publishes a clip as audio_common would: AudioDataStamped chunks with capture stamps."""

    def __init__(self, bus: Bus, topic: str = "audio/audio_stamped", chunk_s: float = 0.1,
                 start_ns: int = 1_000_000_000_000):
        self.bus, self.topic, self.chunk_s = bus, topic, chunk_s
        self.next_ns = start_ns
        self.publisher = bus.publisher(AudioDataStamped, topic)

    def send_bytes(self, data: bytes, stamp_ns: int | None = None) -> None:
        ns = self.next_ns if stamp_ns is None else stamp_ns
        self.publisher.publish(AudioDataStamped(header=Header(stamp=stamp(ns), frame_id="test_mic"),
                                                audio=AudioData(data=data)))

    def play(self, audio: np.ndarray, rate: int = 16000, speed: float = 8.0) -> int:
        """Publish `audio` (N,), or (C, N) as interleaved channels, in chunks, `speed` times
        faster than real time; returns the stamp (ns) of its first sample."""
        first = self.next_ns
        step = int(self.chunk_s * rate)
        frames = audio[None] if audio.ndim == 1 else audio
        for start in range(0, frames.shape[1], step):
            piece = frames[:, start:start + step]
            self.send_bytes(encode_s16le(piece.T.ravel()))
            self.next_ns += round(piece.shape[1] * 1e9 / rate)
            time.sleep(self.chunk_s / speed)
        return first

    def set_info(self, rate: int, sample_format: str = "S16LE", channels: int = 1) -> None:
        info_topic = self.topic.rsplit("/", 1)[0] + "/audio_info"
        self.bus.publisher(AudioInfo, info_topic, LATCHED).publish(
            AudioInfo(channels=channels, sample_rate=rate, sample_format=sample_format,
                      bitrate=rate * 16 * channels, coding_format="wave"))
