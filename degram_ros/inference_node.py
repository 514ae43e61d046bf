"""What the sound-event and speaker-ID nodes share: audio in, a model every hop on the last
window, diagnostics out.

Lifecycle (managed) nodes: `configure` loads the model, `activate` subscribes and starts the
worker, `deactivate` stops both, `cleanup` frees the model. With `autostart` (the default)
run_node goes through configure and activate at once, so `ros2 run` and the launch files
start a working node in one step.

Threads: on a multi-threaded executor, the audio subscription (its own callback group, so
messages stay in order) only decodes messages and pushes them into the streaming core
(degram_core.stream.WindowStream: resampling, ring buffer, due windows, stamps); one worker
thread takes windows from it and runs the model. When the worker falls behind it jumps to the
newest due window and counts the ones it skipped, so the queue never grows. Services have a
callback group of their own, so a slow request (an enrollment) never holds up the audio.
"""
from __future__ import annotations

import math
import threading
import time
from collections import Counter

import numpy as np
import torch
from audio_common_msgs.msg import AudioData, AudioDataStamped, AudioInfo
from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                 SetParametersResult)
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.exceptions import ParameterException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from degram_core import CheckpointError, Classifier
from degram_core.runtime.classifier import BACKENDS
from degram_core.runtime.stream import StreamClock, WindowStream, window_hop_samples

from degram_core.runtime.codecs import AudioFormat, BadAudio, Mp3Stream, check_coding, decode
from .node_runner import StartupError
from .share import resolve_share_path
from .throttle import Throttle

# name: (default, description); every inference node declares these, config/*.yaml sets them.
# They are read-only (read at configure) except those in LIVE_PARAMETERS.
COMMON_PARAMETERS = {
    "autostart": (True, "configure and activate at start-up; false: wait for the lifecycle "
                  "services (a lifecycle manager)"),
    "checkpoint": ("", "model file (.pt); a relative path is looked up in this package's share folder"),
    "device": ("auto", "auto (CUDA when present), cpu or cuda[:N]"),
    "backend": ("torch", "torch: run the .pt checkpoint in PyTorch (the reference); onnxruntime: "
                "export it to ONNX at start-up (or load a `degram export` .onnx) and run it in "
                "onnxruntime, with TensorRT/CUDA when installed (Jetson)"),
    "threads": (1, "torch threads for inference; 1 lets two nodes share two cores"),
    "window_s": (1.0, "seconds of audio per prediction"),
    "hop_s": (0.25, "seconds between predictions"),
    "top_k": (3, "most classes reported per window"),
    "threshold": (-1.0, "lowest score reported; negative: the model's own, chosen on validation "
                  "data (degram info)"),
    "stamped": (True, "true: subscribe audio/audio_stamped (AudioDataStamped); false: "
                "audio/audio (AudioData, stamped on arrival)"),
    "sample_rate": (16000, "input rate until an AudioInfo says otherwise"),
    "channels": (1, "input channels until an AudioInfo says otherwise"),
    "sample_format": ("S16LE", "input sample format until an AudioInfo says otherwise"),
    "coding_format": ("wave", "input coding until an AudioInfo says otherwise: wave (PCM) or "
                      "mp3 (decoded as it arrives)"),
    "audio_reliability": ("best_effort", "best_effort (receives from reliable and best-effort "
                          "publishers) or reliable"),
    "audio_qos_depth": (100, "audio messages queued before the oldest is dropped"),
    "max_message_s": (10.0, "longer audio messages are counted and dropped"),
    "frame_id": ("", "frame of the output; empty: the input's"),
    "audio_timeout_s": (3.0, "seconds without audio, while active, before /diagnostics warns"),
}

# Parameters that take effect at once (`ros2 param set`), with the values they accept: the
# range goes into the descriptor (`ros2 param describe`), and a value outside it is refused.
# (Thresholds below 0 stand for the model's own operating point.)
LIVE_PARAMETERS = {
    "threshold": (-1.0, 1.0),
    "top_k": (1, 1000),
    "similarity_threshold": (-1.0, 100.0),  # cosine, or T-normalised (standard deviations)
    "min_rms_db": (-200.0, 0.0),
    "min_speech_fraction": (-1.0, 1.0),
}


# Drop reasons that say the input as a whole cannot be decoded (not one malformed message):
# /diagnostics goes ERROR with the reason until a message decodes again.
UNDECODABLE = {"unsupported_format", "unsupported_coding", "undecodable"}


def descriptor(name: str, default, description: str) -> ParameterDescriptor:
    if name not in LIVE_PARAMETERS:
        return ParameterDescriptor(description=description, read_only=True)
    low, high = LIVE_PARAMETERS[name]
    ranges = ({"integer_range": [IntegerRange(from_value=low, to_value=high, step=1)]}
              if isinstance(default, int) else
              {"floating_point_range": [FloatingPointRange(from_value=low, to_value=high)]})
    return ParameterDescriptor(description=f"{description} (changes take effect at once)",
                               **ranges)


# AudioInfo from audio_capture comes transient local, once (the 0.4.0 release), or volatile,
# re-sent every 5 s (its ros2 branch head). One subscription of each durability takes both: a
# transient-local one alone refuses volatile publishers, a volatile one alone misses the one
# latched message. BEST_AVAILABLE does not do it: it is resolved when the subscription is
# created (to transient local if no publisher is known yet), and a volatile publisher found
# later is refused (measured here with Fast DDS, test_audio_common.py). An AudioInfo received
# twice does no harm: on_info only acts on a change.
INFO_QOS = {
    "transient_local": QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                  durability=DurabilityPolicy.TRANSIENT_LOCAL),
    "volatile": QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.VOLATILE),
}


class InferenceNode(LifecycleNode):
    """Base of the sound-event and speaker-ID nodes; subclasses set their parameters and
    implement `handle_window`, and create their outputs in `configure_outputs`."""

    EXTRA_PARAMETERS: dict = {}
    HISTORY_S = 4.0  # seconds kept beyond the window

    def __init__(self, name: str):
        super().__init__(name)
        for key, (default, description) in {**COMMON_PARAMETERS, **self.EXTRA_PARAMETERS}.items():
            try:
                self.declare_parameter(key, default, descriptor(key, default, description))
            except ParameterException as error:  # e.g. a YAML value out of range
                raise StartupError(f"parameter {key!r}: {error}") from None
        self.live = {key: self.param(key) for key in LIVE_PARAMETERS if self.has_parameter(key)}
        self.add_on_set_parameters_callback(self.on_parameters)
        self.audio_group = MutuallyExclusiveCallbackGroup()
        self.service_group = MutuallyExclusiveCallbackGroup()
        self.classifier = None
        self.subscriptions_: list = []
        self.worker: threading.Thread | None = None
        self.running = False
        self.startup_error: StartupError | None = None
        self.quiet_failure = False  # start_up reports a failed configure itself

    def param(self, name: str):
        return self.get_parameter(name).value

    def on_parameters(self, parameters) -> SetParametersResult:
        """Live parameters: checked (rclpy has applied the descriptor's range already; NaN and
        types are checked here too), then used by the next window."""
        for parameter in parameters:
            if parameter.name not in LIVE_PARAMETERS:
                continue
            low, high = LIVE_PARAMETERS[parameter.name]
            value = parameter.value
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or (isinstance(value, float) and math.isnan(value)) or not low <= value <= high):
                return SetParametersResult(successful=False, reason=(
                    f"{parameter.name} must be a number from {low} to {high}, got {value!r}"))
        for parameter in parameters:
            if parameter.name in self.live:
                self.live[parameter.name] = parameter.value
                self.get_logger().info(f"{parameter.name} now {parameter.value}")
        return SetParametersResult(successful=True)

    # --- lifecycle ---------------------------------------------------------------------

    def start_up(self) -> None:
        """configure + activate, as `autostart` asks; StartupError (one line) if either fails."""
        self.quiet_failure, self.startup_error = True, None
        try:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise self.startup_error or StartupError("configure failed")
            if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                raise self.startup_error or StartupError("activate failed")
        finally:
            self.quiet_failure = False

    def transition(self, name: str, step, undo) -> TransitionCallbackReturn:
        """Run one transition's work; a failure is one log line, never an exception (rclpy
        would turn it into ERROR without a word). FAILURE goes back to the state before the
        transition (`undo` what was done); anything unexpected is ERROR, and on_error takes
        the node back to unconfigured."""
        try:
            step()
        except StartupError as error:
            self.startup_error = error
            if not self.quiet_failure:
                self.get_logger().error(str(error))
            undo()
            return TransitionCallbackReturn.FAILURE
        except Exception as error:  # noqa: BLE001 - reported, and the node stays up
            self.startup_error = StartupError(f"{name} failed: {type(error).__name__}: {error}")
            self.get_logger().error(str(self.startup_error))
            return TransitionCallbackReturn.ERROR
        return TransitionCallbackReturn.SUCCESS

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = self.transition("configure", self.configure, undo=self.release)
        return super().on_configure(state) if result == TransitionCallbackReturn.SUCCESS else result

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)  # outputs first: the first window may come soon
        if result != TransitionCallbackReturn.SUCCESS:
            return result
        return self.transition("activate", self.activate, undo=self.deactivate)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        return TransitionCallbackReturn.SUCCESS  # back to unconfigured, ready to try again

    def configure(self) -> None:
        """Load the model and set up everything but the input; StartupError names the
        parameter at fault."""
        p = self.param
        torch.set_num_threads(max(1, p("threads")))
        self.checkpoint_path = checkpoint = resolve_share_path(p("checkpoint"))
        if p("backend") not in BACKENDS:
            raise StartupError(f"parameter 'backend' must be one of {list(BACKENDS)}, "
                               f"got {p('backend')!r}")
        try:
            self.classifier = Classifier(checkpoint, device=p("device"), backend=p("backend"),
                                         threads=max(1, p("threads")))
        except (CheckpointError, OSError) as error:
            raise StartupError(f"cannot load the model given by parameter 'checkpoint' "
                               f"({p('checkpoint')!r}): {error}") from None
        self.model_name = f"{self.classifier.model.name}:{checkpoint.name}"
        rate = self.classifier.sample_rate
        try:
            self.window, self.hop = window_hop_samples(p("window_s"), p("hop_s"), rate)
        except ValueError:
            raise StartupError(f"window_s and hop_s must be positive, got {p('window_s')}, "
                               f"{p('hop_s')}") from None

        self.format = AudioFormat(p("sample_rate"), p("channels"), p("sample_format"))
        self.last_info: tuple | None = None  # the newest AudioInfo's fields
        self.coding: str | None = None  # pcm, mp3, or the name of a coding we refuse
        self.mp3: Mp3Stream | None = None  # the decoder of the current MP3 stream
        self.coding_error: BadAudio | None = None  # the input's coding, when we cannot decode it
        try:
            self.set_coding(p("coding_format"))
        except BadAudio as error:
            raise StartupError(f"parameter 'coding_format': {error}") from None
        # Room for the window plus a few seconds of slack for a slow worker (and the history
        # a subclass wants to look back on, e.g. enrollment from the last seconds heard).
        self.stream = WindowStream(rate, self.window, self.hop, capacity=self.window + max(
            self.hop * 4, round(self.HISTORY_S * rate)))
        self.log_throttle = Throttle(period_s=5.0)
        self.last_end_ns: int | None = None  # MP3: the newest message's stamp
        self.last_audio = time.monotonic()  # arrival of the last message (or activation)
        self.input_error: BadAudio | None = None  # why the last message could not be decoded
        self.frame_id = p("frame_id")
        self.warned_frame_id = False
        self.max_message_s = p("max_message_s")
        self.stats = Counter()
        self.bad = Counter()
        self.latencies: list[float] = []

        reliability = p("audio_reliability")
        if reliability not in ("best_effort", "reliable"):
            raise StartupError(f"audio_reliability must be best_effort or reliable, got {reliability!r}")
        self.audio_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=max(1, p("audio_qos_depth")),
            reliability=ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort"
            else ReliabilityPolicy.RELIABLE)
        # Relative names, as audio_common publishes them inside its namespace: moved with
        # __ns:= or a launch file's namespace, pointed elsewhere by remapping.
        self.audio_topic = "audio/audio_stamped" if p("stamped") else "audio/audio"
        # Diagnostics are not a lifecycle output: an inactive node still says how it is.
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.diagnostics_timer = self.create_timer(1.0, self.publish_diagnostics)
        self.configure_outputs()
        self.get_logger().info(
            f"{self.model_name} on {self.classifier.device}, window {p('window_s')} s, hop "
            f"{p('hop_s')} s, listening on {self.resolve_topic_name(self.audio_topic)}")

    def configure_outputs(self) -> None:
        """Subclasses create their (lifecycle) publishers and services here."""

    def release_outputs(self) -> None:
        """Subclasses destroy what configure_outputs created."""

    def activate(self) -> None:
        if self.param("stamped"):
            audio = self.create_subscription(AudioDataStamped, self.audio_topic, self.on_stamped,
                                             self.audio_qos, callback_group=self.audio_group)
        else:
            audio = self.create_subscription(AudioData, self.audio_topic, self.on_unstamped,
                                             self.audio_qos, callback_group=self.audio_group)
        self.subscriptions_ = [audio]
        for durability, qos in INFO_QOS.items():
            # the transient-local subscription refusing a volatile publisher is expected:
            # the volatile one takes it; without a handler rclpy would warn about it
            events = (SubscriptionEventCallbacks(incompatible_qos=lambda event: None)
                      if durability == "transient_local" else None)
            self.subscriptions_.append(self.create_subscription(
                AudioInfo, "audio/audio_info", self.on_info, qos, event_callbacks=events,
                callback_group=self.audio_group))
        self.last_audio = time.monotonic()
        self.running = True
        self.worker = threading.Thread(target=self.work, name=f"{self.get_name()}-inference",
                                       daemon=True)
        self.worker.start()

    def deactivate(self) -> None:
        for subscription in self.subscriptions_:
            self.destroy_subscription(subscription)
        self.subscriptions_ = []
        self.running = False
        if self.worker is not None:
            self.stream.notify_all()
            self.worker.join(timeout=5)
            self.worker = None

    def release(self) -> None:
        """Back to unconfigured from any state: input, worker, outputs and the model go."""
        if self.subscriptions_ or self.worker is not None:
            self.deactivate()
        if getattr(self, "diagnostics_timer", None) is not None:
            self.destroy_timer(self.diagnostics_timer)
            self.destroy_publisher(self.diagnostics)
            self.diagnostics_timer = None
        self.release_outputs()
        if self.classifier is not None:
            self.classifier = None
            if torch.cuda.is_available():
                torch.cuda.empty_cache()  # the model's GPU memory goes back to the others

    def stop(self) -> None:
        """At exit, in whatever state: the worker must not outlive the node."""
        self.release()


    # --- input (executor thread) -------------------------------------------------------

    def on_info(self, msg: AudioInfo) -> None:
        key = (msg.channels, msg.sample_rate, msg.sample_format, msg.bitrate, msg.coding_format)
        if key == self.last_info:
            return  # the same AudioInfo again: from both subscriptions, or re-sent every 5 s
        self.last_info = key
        try:
            self.set_coding(msg.coding_format)
        except BadAudio as error:
            self.refuse_coding(error, msg.coding_format)
        fmt = AudioFormat(int(msg.sample_rate), int(msg.channels), msg.sample_format or "S16LE")
        try:
            fmt.check()
        except BadAudio as error:  # adopted all the same: its audio is dropped, not misread
            self.bad["audio_info"] += 1
            self.warn("audio_info", f"refused AudioInfo {fmt}: {error}; audio is dropped "
                      f"until a usable AudioInfo arrives")
            self.format = fmt
            return
        if fmt.sample_rate != self.format.sample_rate:
            self.stats["rate_changes"] += 1
            self.get_logger().info(f"input rate now {fmt.sample_rate} Hz: resampling to "
                                   f"{self.classifier.sample_rate} Hz")
        if fmt != self.format:
            self.get_logger().info(f"audio format now {fmt}")
            self.format = fmt

    def set_coding(self, coding_format: str) -> None:
        """Decode what follows as `coding_format` (pcm or mp3); BadAudio if we cannot. An
        AudioInfo repeating the coding (re-sent every few seconds) changes nothing."""
        kind = check_coding(coding_format)
        if kind == self.coding and self.coding_error is None:
            return
        if kind == "mp3":
            Mp3Stream()  # PyAV present: refuse at once, not at the first message
        if self.coding is not None:
            self.get_logger().info(f"audio coding now {kind}")
        self.coding, self.coding_error, self.mp3 = kind, None, None

    def refuse_coding(self, error: BadAudio, coding_format: str) -> None:
        name = coding_format.strip().lower()
        if name != self.coding:  # once per change of coding, not per message
            self.get_logger().error(f"AudioInfo: {error}")
        self.coding, self.coding_error, self.mp3 = name, error, None

    def on_stamped(self, msg: AudioDataStamped) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if not self.frame_id:
            if msg.header.frame_id:
                self.frame_id = msg.header.frame_id
            elif not self.warned_frame_id:
                # audio_capture leaves frame_id empty: results would be placed nowhere
                self.warned_frame_id = True
                self.get_logger().warning(
                    "the audio carries no header.frame_id and parameter 'frame_id' is empty: "
                    "results go out with an empty frame_id; set 'frame_id' to the microphone's "
                    "frame")
        self.accept(bytes(msg.audio.data), stamp)

    def on_unstamped(self, msg: AudioData) -> None:
        self.accept(bytes(msg.data), None)

    def accept(self, data: bytes, stamp_ns: int | None) -> None:
        self.last_audio = time.monotonic()
        if self.coding_error is not None:  # said once, with what to do, by refuse_coding
            self.bad[self.coding_error.reason] += 1
            self.input_error = self.coding_error
            return
        if self.coding == "mp3":
            self.accept_mp3(data, stamp_ns)
            return
        try:
            audio = decode(data, self.format, self.max_message_s)
        except BadAudio as error:
            self.drop(error)
            return
        rate = self.format.sample_rate
        if stamp_ns is None:  # unstamped audio: its first sample was captured ~duration ago
            stamp_ns = self.get_clock().now().nanoseconds - round(len(audio) * 1e9 / rate)
            self.store(audio, rate, stamp_ns)
        else:  # capture stamps: checked for lost audio and for time going backwards
            self.store(audio, rate, stamp_ns, clocked=True)

    def accept_mp3(self, data: bytes, stamp_ns: int | None) -> None:
        """MP3 as audio_capture sends it: decoded as it comes, stamped by the decoder from the
        first message's stamp and the samples since (Mp3Stream)."""
        if stamp_ns is None:
            stamp_ns = self.get_clock().now().nanoseconds
        # A message's stamp is its first frame's capture time: earlier than the last one is a
        # new stream (a restarted capture), with a decoder of its own.
        if self.mp3 is not None and stamp_ns < self.last_end_ns - StreamClock.TOLERANCE_NS:
            self.stream.restart()
            self.stream_restarted()
            self.mp3 = None
        if self.mp3 is None:
            self.mp3 = Mp3Stream()
        self.last_end_ns = stamp_ns
        try:
            audio, rate, first_ns = self.mp3.decode(data, stamp_ns, self.max_message_s)
        except BadAudio as error:
            self.drop(error)
            return
        if len(audio):
            self.store(audio, rate, first_ns)

    def store(self, audio: np.ndarray, rate: int, stamp_ns: int, clocked: bool = False) -> None:
        self.input_error = None
        if self.stream.push(audio, rate, stamp_ns, clocked=clocked):
            self.stream_restarted()  # the stream restarted before this audio

    def drop(self, error: BadAudio) -> None:
        self.bad[error.reason] += 1
        if error.reason in UNDECODABLE:
            self.input_error = error
        self.warn(error.reason, f"dropped an audio message: {error}")

    def warn(self, reason: str, text: str) -> None:
        """A warning at most every 5 s per reason (see throttle.py)."""
        held = self.log_throttle(reason)
        if held is not None:
            self.get_logger().warning(text + (f" ({held} more since the last such line)"
                                              if held else ""))

    def stream_restarted(self) -> None:
        """Time went backwards (a bag looped, a device restarted): a new stream, said and
        counted (WindowStream has started it)."""
        self.stats["stream_restarts"] += 1
        self.warn("stream_restart", "audio stamps went backwards: starting a new stream")

    # --- model (worker thread) ---------------------------------------------------------

    def work(self) -> None:
        while self.running:
            # behind: the newest due window only, the rest counted as skipped
            window, skipped = self.stream.wait_window(timeout=0.2)
            self.stats["windows_skipped"] += skipped
            if window is None:
                continue
            started = time.perf_counter()
            try:
                self.handle_window(window.audio, window.stamp_ns)
            except Exception as error:  # one bad window must not stop the node
                self.stats["inference_errors"] += 1
                self.report_inference_error(error)
            self.latencies.append(time.perf_counter() - started)
            self.stats["windows_processed"] += 1

    def report_inference_error(self, error: Exception) -> None:
        self.get_logger().error(f"inference failed: {error}", throttle_duration_sec=5.0)

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        return self.classifier.probabilities(torch.from_numpy(audio)[None])[0]

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        raise NotImplementedError

    def header_stamp(self, stamp_ns: int) -> Time:
        return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)

    def window_duration(self) -> Duration:
        ns = round(self.window * 1e9 / self.classifier.sample_rate)
        return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)

    # --- diagnostics -------------------------------------------------------------------

    def publish_diagnostics(self) -> None:
        latencies, self.latencies = self.latencies, []
        hop_s = self.hop / self.classifier.sample_rate
        mean = float(np.mean(latencies)) if latencies else 0.0
        worst = float(np.max(latencies)) if latencies else 0.0
        values = {
            "latency_mean_ms": f"{mean * 1000:.2f}",
            "latency_max_ms": f"{worst * 1000:.2f}",
            "real_time_factor": f"{mean / hop_s:.4f}",
            "windows_processed": str(self.stats["windows_processed"]),
            "windows_skipped": str(self.stats["windows_skipped"]),
            "bad_messages": str(sum(self.bad.values())),
            **{f"bad_{reason}": str(count) for reason, count in sorted(self.bad.items())},
            "rate_changes": str(self.stats["rate_changes"]),
            "coding": self.coding,
            "mp3_bad_frames": str(self.mp3.bad_frames if self.mp3 else 0),
            "stream_restarts": str(self.stats["stream_restarts"]),
            "lost_audio_s": f"{self.stream.clock.lost_ns / 1e9:.3f}",
            "audio_gaps": str(self.stream.clock.gaps),
            "inference_errors": str(self.stats["inference_errors"]),
            **self.extra_diagnostics(),
        }
        level, message = self.health(mean, hop_s)
        values["state"] = "active" if self.running else "inactive"
        status = DiagnosticStatus(
            level=level, name=f"{self.get_name()}: inference", hardware_id=self.model_name,
            message=message, values=[KeyValue(key=k, value=v) for k, v in values.items()])
        header = Header(stamp=self.get_clock().now().to_msg())
        self.diagnostics.publish(DiagnosticArray(header=header, status=[status]))

    def health(self, mean_latency: float, hop_s: float) -> tuple[bytes, str]:
        """The worst of: input we cannot decode (ERROR), no audio (WARN), slow (WARN)."""
        if not self.running:
            return DiagnosticStatus.OK, "inactive"
        if self.input_error is not None:
            return DiagnosticStatus.ERROR, f"cannot decode the input: {self.input_error}"
        silent = time.monotonic() - self.last_audio
        if silent > self.param("audio_timeout_s"):
            return DiagnosticStatus.WARN, (f"no audio for {silent:.0f} s on "
                                           f"{self.resolve_topic_name(self.audio_topic)}")
        if mean_latency >= hop_s:
            return DiagnosticStatus.WARN, "slower than real time"
        return DiagnosticStatus.OK, "running"

    def extra_diagnostics(self) -> dict:
        return {}
