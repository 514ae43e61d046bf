"""What the sound-event and speaker-ID nodes share: audio in, a model every hop on the last
window, diagnostics out.

Lifecycle (managed) nodes: `configure` loads the model, `activate` subscribes and starts the
worker, `deactivate` stops both, `cleanup` frees the model. With `autostart` (the default)
run_node goes through configure and activate at once, so `ros2 run` and the launch files
start a working node in one step.

The audio itself is degram_core's listener (runtime/listener.py: AudioInfo, codings, MP3,
resampling, stamps, the worker thread); this class is the ROS around it. Threads: on a
multi-threaded executor, the audio subscription (its own callback group, so messages stay in
order) hands each message to the listener; the listener's worker takes windows and calls
`handle_window`. Services have a callback group of their own, so a slow request (an
enrollment) never holds up the audio.
"""
from __future__ import annotations

import math

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

from degram_core.runtime.checkpoint import CheckpointError
from degram_core.runtime.classifier import BACKENDS, Classifier
from degram_core.runtime.codecs import BadAudio
from degram_core.runtime.direction import GeometryError, geometry
from degram_core.runtime.listener import Listener, ListenerConfig
from degram_core.runtime.spatial import Heard, Spatial

from .node_runner import StartupError
from .share import resolve_share_path

LISTENER = ListenerConfig()  # the listener's defaults are the parameters' defaults

# name: (default, description); every inference node declares these, config/*.yaml sets them
# (test_node_defaults.py: to the same values). Read-only (read at configure) except those in
# LIVE_PARAMETERS.
COMMON_PARAMETERS = {
    "autostart": (True, "configure and activate at start-up; false: wait for the lifecycle "
                  "services (a lifecycle manager)"),
    "checkpoint": ("", "model file (.pt); a relative path is looked up in this package's share folder"),
    "device": ("auto", "auto (CUDA when present), cpu or cuda[:N]"),
    "backend": ("torch", "torch: run the .pt checkpoint in PyTorch (the reference); onnxruntime: "
                "export it to ONNX at start-up (or load a `degram export` .onnx) and run it in "
                "onnxruntime, with TensorRT/CUDA when installed (Jetson)"),
    "threads": (1, "torch threads for inference; 1 lets two nodes share two cores"),
    "window_s": (LISTENER.window_s, "seconds of audio per prediction"),
    "hop_s": (LISTENER.hop_s, "seconds between predictions"),
    "top_k": (3, "most classes reported per window"),
    "threshold": (-1.0, "lowest score reported; negative: the model's own, chosen on validation "
                  "data (degram info)"),
    "stamped": (True, "true: subscribe audio/audio_stamped (AudioDataStamped); false: "
                "audio/audio (AudioData, stamped on arrival)"),
    "sample_rate": (LISTENER.sample_rate, "input rate until an AudioInfo says otherwise"),
    "channels": (LISTENER.channels, "input channels until an AudioInfo says otherwise"),
    "sample_format": (LISTENER.sample_format, "input sample format until an AudioInfo says "
                      "otherwise"),
    "coding_format": (LISTENER.coding_format, "input coding until an AudioInfo says otherwise: "
                      "wave (PCM) or mp3 (decoded as it arrives)"),
    "audio_reliability": ("best_effort", "best_effort (receives from reliable and best-effort "
                          "publishers) or reliable"),
    "audio_qos_depth": (100, "audio messages queued before the oldest is dropped"),
    "max_message_s": (LISTENER.max_message_s, "longer audio messages are counted and dropped"),
    "frame_id": ("", "frame of the output; empty: the input's"),
    "audio_timeout_s": (3.0, "seconds without audio, while active, before /diagnostics warns"),
    "array": ("", "microphone array the channels come from, a named board (respeaker_4mic, "
              "respeaker_6mic, respeaker_usb_4mic, matrix_voice, ps3_eye, azure_kinect): each "
              "result gets a direction; empty: none (or mic_positions)"),
    "mic_positions": ("", "the array as positions 'x,y,z;x,y,z;...' in metres in frame_id "
                      "(REP-103: x forward, y left, z up), one per channel; instead of array"),
}

# Parameters that take effect at once (`ros2 param set`), with the values they accept: the
# range goes into the descriptor (`ros2 param describe`), and a value outside it is refused.
# (Thresholds below 0 stand for the model's own operating point.) A node adds its own in
# EXTRA_LIVE.
LIVE_PARAMETERS = {
    "threshold": (-1.0, 1.0),
    "top_k": (1, 1000),
}


def descriptor(default, description: str, live: tuple | None) -> ParameterDescriptor:
    """Read-only, or with the range `live` a live parameter accepts."""
    if live is None:
        return ParameterDescriptor(description=description, read_only=True)
    low, high = live
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
    """Base of the sound-event and speaker-ID nodes. Subclasses add their parameters
    (EXTRA_PARAMETERS, EXTRA_LIVE), their own defaults of common ones (DEFAULTS), create their
    outputs in `configure_outputs` and implement `handle_window`."""

    EXTRA_PARAMETERS: dict = {}
    EXTRA_LIVE: dict = {}
    DEFAULTS: dict = {}
    HISTORY_S = LISTENER.history_s  # seconds kept beyond the window

    @classmethod
    def parameters(cls) -> dict:
        """name: (default, description) of every parameter this node declares."""
        table = {**COMMON_PARAMETERS, **cls.EXTRA_PARAMETERS}
        return {name: (cls.DEFAULTS.get(name, default), description)
                for name, (default, description) in table.items()}

    def __init__(self, name: str):
        super().__init__(name)
        self.live_ranges = {**LIVE_PARAMETERS, **self.EXTRA_LIVE}
        for key, (default, description) in self.parameters().items():
            try:
                self.declare_parameter(key, default, descriptor(default, description,
                                                                self.live_ranges.get(key)))
            except ParameterException as error:  # e.g. a YAML value out of range
                raise StartupError(f"parameter {key!r}: {error}") from None
        self.live = {key: self.param(key) for key in self.live_ranges}
        self.add_on_set_parameters_callback(self.on_parameters)
        self.audio_group = MutuallyExclusiveCallbackGroup()
        self.service_group = MutuallyExclusiveCallbackGroup()
        self.classifier = None
        self.listener: Listener | None = None
        self.spatial: Spatial | None = None
        self.subscriptions_: list = []
        self.startup_error: StartupError | None = None
        self.quiet_failure = False  # start_up reports a failed configure itself

    def param(self, name: str):
        return self.get_parameter(name).value

    def on_parameters(self, parameters) -> SetParametersResult:
        """Live parameters: checked (rclpy has applied the descriptor's range already; NaN and
        types are checked here too), then used by the next window."""
        for parameter in parameters:
            if parameter.name not in self.live_ranges:
                continue
            low, high = self.live_ranges[parameter.name]
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

    @property
    def stats(self):
        """The listener's counters, which a subclass adds its own to."""
        return self.listener.stats

    @property
    def window(self) -> int:
        return self.listener.window

    @property
    def hop(self) -> int:
        return self.listener.hop

    @property
    def stream(self):
        return self.listener.stream

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
        self.load_model()
        self.spatial = self.make_spatial()
        self.listener = self.make_listener()
        if self.spatial is not None:
            self.listener.on_frames, self.spatial.warn = self.spatial.on_frames, self.listener.warn
        self.frame_id = self.param("frame_id")
        self.warned_frame_id = False
        self.audio_qos = self.audio_qos_profile()
        # Relative names, as audio_common publishes them inside its namespace: moved with
        # __ns:= or a launch file's namespace, pointed elsewhere by remapping.
        self.audio_topic = "audio/audio_stamped" if self.param("stamped") else "audio/audio"
        # Diagnostics are not a lifecycle output: an inactive node still says how it is.
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.diagnostics_timer = self.create_timer(1.0, self.publish_diagnostics)
        self.configure_outputs()
        self.get_logger().info(
            f"{self.model_name} on {self.classifier.device}, window {self.param('window_s')} s, "
            f"hop {self.param('hop_s')} s, listening on "
            f"{self.resolve_topic_name(self.audio_topic)}")

    def load_model(self) -> None:
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

    def make_listener(self) -> Listener:
        p = self.param
        config = ListenerConfig(
            window_s=p("window_s"), hop_s=p("hop_s"), sample_rate=p("sample_rate"),
            channels=p("channels"), sample_format=p("sample_format"),
            coding_format=p("coding_format"), max_message_s=p("max_message_s"),
            history_s=self.HISTORY_S)
        try:
            return Listener(self.classifier.sample_rate, config, self.get_logger(),
                            lambda: self.get_clock().now().nanoseconds)
        except BadAudio as error:
            raise StartupError(f"parameter 'coding_format': {error}") from None
        except ValueError:
            raise StartupError(f"window_s and hop_s must be positive, got {p('window_s')}, "
                               f"{p('hop_s')}") from None

    def make_spatial(self) -> Spatial | None:
        """The microphone array of parameter `array` or `mic_positions` (None: neither)."""
        given = {name: self.param(name).strip() for name in ("array", "mic_positions")}
        given = {name: value for name, value in given.items() if value}
        if len(given) > 1:
            raise StartupError("set one of parameters 'array' and 'mic_positions', not both")
        if not given:
            return None
        (name, spec), = given.items()
        try:
            geom = geometry(spec)
        except GeometryError as error:
            raise StartupError(f"parameter {name!r}: {error}") from None
        self.get_logger().info(f"directions from the {geom.name} array ({geom.count} mics); "
                               f"the model hears a beam towards what it hears")
        # the window and the history the listener keeps, read back by stamp
        return Spatial(geom, seconds=self.param("window_s") + self.HISTORY_S)

    def audio_qos_profile(self) -> QoSProfile:
        reliability = self.param("audio_reliability")
        if reliability not in ("best_effort", "reliable"):
            raise StartupError(f"audio_reliability must be best_effort or reliable, got "
                               f"{reliability!r}")
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=max(1, self.param("audio_qos_depth")),
            reliability=ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort"
            else ReliabilityPolicy.RELIABLE)

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
        self.listener.start(self.handle_window, name=f"{self.get_name()}-inference")

    def deactivate(self) -> None:
        for subscription in self.subscriptions_:
            self.destroy_subscription(subscription)
        self.subscriptions_ = []
        if self.listener is not None:
            self.listener.stop()

    def release(self) -> None:
        """Back to unconfigured from any state: input, worker, outputs and the model go."""
        if self.subscriptions_ or (self.listener is not None and self.listener.running):
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

    # --- input (executor thread): the listener's ---------------------------------------

    def on_info(self, msg: AudioInfo) -> None:
        self.listener.on_info(msg.channels, msg.sample_rate, msg.sample_format, msg.bitrate,
                              msg.coding_format)

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
        self.listener.accept(bytes(msg.audio.data), stamp)

    def on_unstamped(self, msg: AudioData) -> None:
        self.listener.accept(bytes(msg.data), None)

    # --- model (the listener's worker thread) ------------------------------------------

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        return self.classifier.probabilities(torch.from_numpy(audio)[None])[0]

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        raise NotImplementedError

    def hear(self, audio: np.ndarray, stamp_ns: int) -> Heard | None:
        """The window as the array heard it; None without an array (mono: no direction)."""
        return self.spatial.hear(audio, stamp_ns) if self.spatial is not None else None

    def header_stamp(self, stamp_ns: int) -> Time:
        return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)

    def window_duration(self) -> Duration:
        ns = round(self.window * 1e9 / self.classifier.sample_rate)
        return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)

    # --- diagnostics -------------------------------------------------------------------

    def publish_diagnostics(self) -> None:
        values, mean = self.listener.figures()
        values.update(self.extra_diagnostics())
        if self.spatial is not None:
            values["array"] = self.spatial.geometry.name
            values.update({f"direction_{key}": str(count)
                           for key, count in sorted(self.spatial.counts.items())})
        level, message = self.listener.health(mean, self.param("audio_timeout_s"))
        if message.startswith("no audio"):
            message += f" on {self.resolve_topic_name(self.audio_topic)}"
        values["state"] = "active" if self.listener.running else "inactive"
        status = DiagnosticStatus(
            level=getattr(DiagnosticStatus, level), name=f"{self.get_name()}: inference",
            hardware_id=self.model_name, message=message,
            values=[KeyValue(key=k, value=v) for k, v in values.items()])
        header = Header(stamp=self.get_clock().now().to_msg())
        self.diagnostics.publish(DiagnosticArray(header=header, status=[status]))

    def extra_diagnostics(self) -> dict:
        return {}
