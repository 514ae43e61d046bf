"""file_player: an audio file published as audio_common's capture node publishes a microphone.

audio/audio_stamped (AudioDataStamped, PCM S16LE), audio/audio (AudioData) and audio/audio_info
(AudioInfo, latched), at the file's own rate and channel count, paced in real time (or
`rate_factor` times faster). A robot without a microphone, a test or the demo hears a file
exactly as it would hear the microphone.

Stamps: the stamp of a chunk is the capture time of its first sample, start + samples / rate,
where start is the clock time when playback began; wall-time jitter of the timer never enters
a stamp, and looping continues the count, so stamps never go backwards. With `rate_factor` > 1
the stamps still advance by the audio's own duration (a faster clock, as a bag played faster).

When the file ends and `loop` is false the node logs "finished" and stays up, publishing
nothing more: its latched AudioInfo stays available and a launch file around it is not torn
down (ros2 bag play exits instead; Ctrl-C stops this node).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import soundfile
from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
from builtin_interfaces.msg import Time
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from degram_core.runtime.codecs import encode_s16le
from .node_runner import StartupError, run_node
from .share import resolve_share_path

# name: (default, description); config/file_player.yaml sets them
PARAMETERS = {
    "file": ("data/demo/scene.wav", "audio file (any format libsndfile reads); a relative path "
             "is looked up in this package's share folder"),
    "loop": (False, "start again at the end; false: log 'finished' and publish nothing more"),
    "chunk_s": (0.1, "seconds of audio per message"),
    "rate_factor": (1.0, "playback speed: 1 is real time, 4 four times faster"),
    "frame_id": ("file_player", "frame_id of the stamped audio"),
    "start_delay_s": (1.0, "wall seconds between start-up and the first chunk, so that "
                      "subscribers are matched before audio flows"),
    "wait_for_subscribers": (0, "after start_delay_s, wait until this many subscriptions of "
                             "audio/audio_stamped are matched before the first chunk"),
}


def read_pcm16(path: Path) -> tuple[bytes, int, int]:
    """The file as interleaved PCM S16LE bytes, its rate and channels. 16-bit PCM files are
    passed through bit for bit; anything else is decoded to float and rounded to 16 bits."""
    info = soundfile.info(str(path))
    if info.subtype == "PCM_16":
        frames = soundfile.read(str(path), dtype="int16", always_2d=True)[0]
        data = frames.astype("<i2").tobytes()
    else:
        frames = soundfile.read(str(path), dtype="float32", always_2d=True)[0]
        data = encode_s16le(frames.reshape(-1))
    if not len(data):
        raise ValueError("it holds no samples")
    return data, int(info.samplerate), int(info.channels)


class FilePlayerNode(Node):
    def __init__(self, name: str = "file_player"):
        super().__init__(name)
        for key, (default, description) in PARAMETERS.items():
            self.declare_parameter(key, default, ParameterDescriptor(description=description))
        p = lambda key: self.get_parameter(key).value  # noqa: E731
        self.path = resolve_share_path(p("file"))
        try:
            self.data, self.rate, self.channels = read_pcm16(self.path)
        except (OSError, RuntimeError, ValueError) as error:  # LibsndfileError is a RuntimeError
            raise StartupError(f"cannot play the file given by parameter 'file' ({p('file')!r}, "
                               f"{self.path}): {error}") from None
        self.loop, self.rate_factor = p("loop"), p("rate_factor")
        self.frame_id = p("frame_id")
        self.frame_bytes = 2 * self.channels
        self.total = len(self.data) // self.frame_bytes  # frames in the file
        self.chunk = round(p("chunk_s") * self.rate)
        if self.chunk <= 0 or self.rate_factor <= 0:
            raise StartupError(f"chunk_s and rate_factor must be positive, got {p('chunk_s')}, "
                               f"{self.rate_factor}")

        # Reliable, as a capture node publishes: best-effort and reliable subscribers both
        # match. Depth 10 holds 1 s of 0.1 s chunks for a subscriber that lags.
        audio_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                               reliability=ReliabilityPolicy.RELIABLE)
        self.stamped_pub = self.create_publisher(AudioDataStamped, "audio/audio_stamped", audio_qos)
        self.plain_pub = self.create_publisher(AudioData, "audio/audio", audio_qos)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.info_pub = self.create_publisher(AudioInfo, "audio/audio_info", latched)
        self.info_pub.publish(AudioInfo(channels=self.channels, sample_rate=self.rate,
                                        sample_format="S16LE", bitrate=self.rate * self.channels * 16,
                                        coding_format="wave"))

        self.sent = 0                   # frames published so far (over all loops)
        self.start_ns: int | None = None  # clock time of the first sample
        self.started_wall = 0.0
        self.finished = threading.Event()
        self.timer = None
        self.start_after = time.monotonic() + p("start_delay_s")
        self.wait_for = p("wait_for_subscribers")
        self.delay_timer = self.create_timer(0.02, self.maybe_start)
        self.get_logger().info(
            f"playing {self.path} ({self.total / self.rate:.2f} s, {self.rate} Hz x "
            f"{self.channels}) at {self.rate_factor:g}x in {p('chunk_s'):g} s chunks on "
            f"{self.resolve_topic_name('audio/audio_stamped')}"
            f"{', looping' if self.loop else ''}")

    def maybe_start(self) -> None:
        if (time.monotonic() >= self.start_after
                and self.stamped_pub.get_subscription_count() >= self.wait_for):
            self.start()

    def start(self) -> None:
        self.delay_timer.cancel()
        self.destroy_timer(self.delay_timer)
        self.start_ns = self.get_clock().now().nanoseconds
        self.started_wall = time.monotonic()
        # Ticks at the chunk rate; each tick publishes every chunk due by then (catching up
        # after a late tick), so the pace follows the monotonic clock, not the timer.
        self.timer = self.create_timer(self.chunk / self.rate / self.rate_factor, self.tick)

    def tick(self) -> None:
        # frames "captured" so far: a chunk goes out once its last frame is due, as a
        # microphone's does once it has been recorded
        due = (time.monotonic() - self.started_wall) * self.rate_factor * self.rate
        while not self.finished.is_set() and self.sent + self.next_frames() <= due:
            self.publish_chunk()

    def position(self) -> int:
        """Frame of the file the next chunk starts at."""
        return self.sent % self.total if self.loop else self.sent

    def next_frames(self) -> int:
        return min(self.chunk, self.total - self.position())

    def publish_chunk(self) -> None:
        position, frames = self.position(), self.next_frames()
        data = self.data[position * self.frame_bytes:(position + frames) * self.frame_bytes]
        stamp_ns = self.start_ns + round(self.sent * 1e9 / self.rate)
        audio = AudioData(data=data)
        self.stamped_pub.publish(AudioDataStamped(
            header=Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000),
                          frame_id=self.frame_id), audio=audio))
        self.plain_pub.publish(audio)
        self.sent += frames
        if not self.loop and self.sent >= self.total:
            self.timer.cancel()
            self.finished.set()
            self.get_logger().info(f"finished {self.path.name}: {self.total / self.rate:.2f} s "
                                   f"in {self.sent // self.chunk + (self.sent % self.chunk > 0)} "
                                   f"messages")

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def main(args=None) -> None:
    run_node(FilePlayerNode, "file_player", args)


if __name__ == "__main__":
    main()
