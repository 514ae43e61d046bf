"""microphone: PortAudio capture (PyAudio) published as audio_common does it.

audio/audio_stamped (AudioDataStamped, PCM S16LE), audio/audio (AudioData) and audio/audio_info
(AudioInfo, latched), so our nodes and ros-drivers/audio_common's interoperate."""
from __future__ import annotations

import threading
import time

import rclpy
from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from .node_runner import StartupError, run_node

PARAMETERS = {
    "device": ("", "input device: empty for the default, an index, or part of its name"),
    "sample_rate": (16000, "capture rate (Hz)"),
    "channels": (1, "capture channels"),
    "chunk": (1600, "frames per message (1600 = 0.1 s at 16 kHz)"),
    "frame_id": ("microphone", "frame_id of the stamped audio"),
}
# A device that is gone fails every read at once: after this long of nothing but failed reads
# the node stops (exit status 1, for a launch file's respawn) instead of spinning on errors.
GIVE_UP_S = 5.0


def find_device(pa, wanted: str) -> int | None:
    """PortAudio index of the input device `wanted` (index or name part); None = default."""
    if not wanted:
        return None
    inputs = {i: pa.get_device_info_by_index(i) for i in range(pa.get_device_count())}
    inputs = {i: info for i, info in inputs.items() if info.get("maxInputChannels", 0) > 0}
    if wanted.isdigit() and int(wanted) in inputs:
        return int(wanted)
    for index, info in inputs.items():
        if wanted.lower() in str(info.get("name", "")).lower():
            return index
    names = ", ".join(f"{i}: {info['name']}" for i, info in inputs.items()) or "none"
    raise StartupError(f"no input device matches parameter 'device' ({wanted!r}); inputs: {names}")


class MicrophoneNode(Node):
    def __init__(self, name: str = "microphone"):
        super().__init__(name)
        for key, (default, description) in PARAMETERS.items():
            self.declare_parameter(key, default, ParameterDescriptor(description=description))
        p = lambda key: self.get_parameter(key).value  # noqa: E731
        self.rate, self.channels, self.chunk = p("sample_rate"), p("channels"), p("chunk")
        self.frame_id = p("frame_id")
        self.stamped_pub = self.create_publisher(AudioDataStamped, "audio/audio_stamped", 10)
        self.plain_pub = self.create_publisher(AudioData, "audio/audio", 10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.info_pub = self.create_publisher(AudioInfo, "audio/audio_info", latched)

        import pyaudio  # imported here so the package imports without PortAudio
        self.pa = pyaudio.PyAudio()
        try:
            device = find_device(self.pa, p("device"))
            self.stream = self.pa.open(format=pyaudio.paInt16, channels=self.channels, rate=self.rate,
                                       input=True, input_device_index=device,
                                       frames_per_buffer=self.chunk)
        except StartupError:
            self.pa.terminate()
            raise
        except (OSError, ValueError) as error:
            self.pa.terminate()
            raise StartupError(f"cannot open input device {p('device')!r} at {self.rate} Hz, "
                               f"{self.channels} channel(s): {error}") from None
        self.info_pub.publish(AudioInfo(channels=self.channels, sample_rate=self.rate,
                                        sample_format="S16LE", bitrate=self.rate * self.channels * 16,
                                        coding_format="wave"))
        self.running = True
        self.failure: str | None = None
        self.thread = threading.Thread(target=self.capture, name="capture", daemon=True)
        self.thread.start()
        self.get_logger().info(f"capturing {self.rate} Hz x {self.channels} from "
                               f"{'default device' if device is None else device}")

    def capture(self) -> None:
        chunk_ns = round(self.chunk * 1e9 / self.rate)
        failed_since = None
        while self.running and rclpy.ok():
            try:
                data = self.stream.read(self.chunk, exception_on_overflow=False)
            except OSError as error:
                if not self.running:  # stop() stopped the stream under this read
                    break
                now = time.monotonic()
                failed_since = failed_since or now
                if now - failed_since >= GIVE_UP_S:
                    self.failure = (f"capture stopped: every read failed for {GIVE_UP_S:g} s, "
                                    f"the last with {error}; is the input device still there?")
                    self.get_logger().fatal(self.failure)
                    self.context.try_shutdown()  # ends the spin; run_node exits with status 1
                    break
                self.get_logger().error(f"capture failed: {error}", throttle_duration_sec=5.0)
                time.sleep(self.chunk / self.rate)  # one chunk's time, not a busy loop
                continue
            failed_since = None
            # The first sample of the chunk was captured one chunk before the read returned.
            stamp = rclpy.time.Time(nanoseconds=self.get_clock().now().nanoseconds - chunk_ns)
            audio = AudioData(data=data)
            self.stamped_pub.publish(AudioDataStamped(
                header=Header(stamp=stamp.to_msg(), frame_id=self.frame_id), audio=audio))
            self.plain_pub.publish(audio)

    def stop(self) -> None:
        self.running = False
        # A read returns within one chunk: join first, since PortAudio calls on one stream from
        # two threads crash (stop_stream during a read: SIGSEGV, seen in the suite). Only a read
        # blocked on a device that is gone is ended by stopping the stream under it.
        self.thread.join(timeout=max(1.0, 4 * self.chunk / self.rate))
        self.stream.stop_stream()
        self.thread.join(timeout=2)
        self.stream.close()
        self.pa.terminate()


def main(args=None) -> None:
    run_node(MicrophoneNode, "microphone", args)


if __name__ == "__main__":
    main()
