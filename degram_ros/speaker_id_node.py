"""speaker_id: who is speaking, every hop, on speaker_id (degram_ros/SpeakerId).

Two modes, chosen per window:
- open set, when the speaker gallery (parameter `gallery`) holds anyone: the window's embedding
  is compared with every enrolled speaker by cosine similarity (T-normalised by the model's
  training speakers when the model says so: `tnorm_scale`), "unknown" below
  `similarity_threshold`. Speakers are enrolled at run time through the services
  `~/enroll` (given audio, or the last `recent_seconds` the node heard), `~/forget`, `~/list`;
  the gallery file is rewritten atomically after each change, so it survives restarts.
- with nobody enrolled: "unknown" for a speaker-embedding model (the shipped one was trained
  on strangers, whose names mean nothing to a robot); a closed-set model (FSDD's, or one of your
  own) names its own labels, "unknown" below `threshold`. `closed_set` overrides the choice.
Only speech is attributed: Silero VAD scores every window and a window whose share of speech
frames is under `min_speech_fraction` (or quieter than `min_rms_db`) publishes no SpeakerId and
is counted as gated. Every window's voice activity is published on `voice_activity`, since a
behaviour may want "someone is talking" even when nobody is known.

Services run in a callback group of their own on a multi-threaded executor (node_runner),
windows on the worker thread (InferenceNode): an enrollment (a model pass over a few seconds)
never holds up the audio subscription, and recent audio is read from the ring buffer, which
holds it already (bench/enroll_stall.py measures the gap between results during enrollments).
Each service queues up to SERVICE_QUEUE_DEPTH requests; beyond that DDS drops the oldest
unanswered ones, without a trace. A client sending bursts needs as deep a queue: every client's
reader receives every reply of the service and rmw picks out its own only when taking them.
Every request is checked (degram_core.validate) and any failure is answered as a refusal: an
exception escaping a service callback would stop the executor, and the node with it. Gallery
changes and reads are serialised by the gallery's lock. The gallery and the voice-activity model
are loaded at configure, with the model, and the services exist from configure to cleanup.
"""
from __future__ import annotations

import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from degram_core.audio import resample
from degram_core.speakers import (DEFAULT_THRESHOLD, MIN_SPEECH_S, UNKNOWN, Gallery,
                                  GalleryError, checkpoint_identity, speech_embedding)
from degram_core.validate import (MIN_ENROLL_S, Refused, check_enroll_audio, check_name,
                                  check_recent_seconds)
from degram_core.vad import DEFAULT_MIN_SPEECH, VADError, VoiceActivity
from degram_ros.msg import SpeakerId, VoiceActivity as VoiceActivityMsg
from degram_ros.srv import Enroll, Forget, ListSpeakers

from .direction_fields import no_direction
from .inference_node import InferenceNode
from .node_runner import StartupError, run_node

# Requests a service holds while one is served; 20 clients calling at once lost up to half
# their requests at rclpy's default of 10.
SERVICE_QUEUE_DEPTH = 100
CLOSED_SET = ("auto", "true", "false")


def rms_db(audio: np.ndarray) -> float:
    """Level in dB relative to full scale (a full-scale sine is -3 dB)."""
    return float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-12))


class SpeakerIdNode(InferenceNode):
    HISTORY_S = 20.0  # enrollment from the room may look back this far (recent_seconds)
    EXTRA_PARAMETERS = {
        "min_rms_db": (-60.0, "extra energy floor under the voice-activity gate: quieter "
                       "windows are not attributed (dBFS; -200 disables it)"),
        "vad_model": ("", "Silero VAD ONNX file; empty: the one inside the silero-vad package"),
        "min_speech_fraction": (-1.0, "share of a window's 32 ms frames that must be speech for "
                                "it to be attributed; negative: the model's own (degram info); "
                                "0 turns the voice-activity gate off (enrollment then uses all "
                                "the audio it is given)"),
        "closed_set": ("auto", "with nobody enrolled: true names the checkpoint's own labels, "
                       "false says 'unknown'; auto: labels only for a closed-set classifier, "
                       "not for a speaker-embedding model"),
        "gallery": ("~/.ros/degram/speakers.json", "speaker gallery file (JSON; ~ expanded, "
                    "created on first enrollment); with speakers in it, identification is open set"),
        "similarity_threshold": (-1.0, "similarity below which a window is 'unknown' in "
                                 "open-set mode: T-normalised for a model with a tnorm_scale "
                                 "(standard deviations above the window's similarity to the "
                                 "model's training speakers), else cosine; negative: the "
                                 "model's own, chosen on validation speakers (degram info)"),
    }

    def __init__(self, name: str = "speaker_id"):
        super().__init__(name)
        self.publisher = self.vad_publisher = None
        self.enroll_services, self.gallery, self.vad = [], None, None

    def configure_outputs(self) -> None:
        path = self.param("gallery")
        try:
            model = checkpoint_identity(self.checkpoint_path)
            self.gallery = Gallery(path, model)
        except (GalleryError, OSError) as error:
            # Never start with an empty gallery instead: the speakers in the file would be
            # overwritten by the next enrollment.
            raise StartupError(f"cannot use the speaker gallery given by parameter 'gallery' "
                               f"({path!r}): {error}") from None
        try:
            self.vad = VoiceActivity(self.param("vad_model") or None)
        except VADError as error:
            raise StartupError(f"cannot load the voice-activity model given by parameter "
                               f"'vad_model' ({self.param('vad_model')!r}): {error}") from None
        if self.param("closed_set") not in CLOSED_SET:
            raise StartupError(f"parameter 'closed_set' must be one of {list(CLOSED_SET)}, got "
                               f"{self.param('closed_set')!r}")
        # lifecycle publishers: silent unless the node is active
        self.publisher = self.create_lifecycle_publisher(SpeakerId, "speaker_id", 10)
        self.vad_publisher = self.create_lifecycle_publisher(VoiceActivityMsg, "voice_activity", 10)
        requests = QoSProfile(depth=SERVICE_QUEUE_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
        self.enroll_services = [
            self.create_service(srv, name, callback, qos_profile=requests,
                                callback_group=self.service_group)
            for srv, name, callback in ((Enroll, "~/enroll", self.on_enroll),
                                        (Forget, "~/forget", self.on_forget),
                                        (ListSpeakers, "~/list", self.on_list))]
        names = self.gallery.names()
        mode = (f"{len(names)} speaker(s), open set" if names
                else "empty, closed set (checkpoint labels)" if self.names_labels()
                else "empty: every speaker is 'unknown' until enrolled (~/enroll)")
        self.get_logger().info(
            f"gallery {self.gallery.path}: {mode}; similarity threshold "
            f"{self.similarity_threshold():.3f}, speech fraction {self.min_speech():.2f}")

    def release_outputs(self) -> None:
        for service in self.enroll_services:
            self.destroy_service(service)
        self.enroll_services = []
        for publisher in (self.publisher, self.vad_publisher):
            if publisher is not None:
                self.destroy_lifecycle_publisher(publisher)
        self.publisher = self.vad_publisher = None
        self.gallery = self.vad = None

    def names_labels(self) -> bool:
        """Whether an empty gallery names the checkpoint's own labels."""
        choice = self.param("closed_set")
        if choice != "auto":
            return choice == "true"
        return not self.classifier.meta.get("speaker_embedding", False)

    def similarity_threshold(self) -> float:
        own = self.live["similarity_threshold"]
        return own if own >= 0 else self.classifier.operating_point("similarity_threshold",
                                                                     DEFAULT_THRESHOLD)

    def min_speech(self) -> float:
        own = self.live["min_speech_fraction"]
        return own if own >= 0 else self.classifier.operating_point("vad_min_speech",
                                                                     DEFAULT_MIN_SPEECH)

    # --- windows (worker thread) -------------------------------------------------------

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        header = Header(stamp=self.header_stamp(stamp_ns), frame_id=self.frame_id)
        fraction, peak = self.vad.speech_fraction(
            resample(audio, self.classifier.sample_rate, self.vad.sample_rate))
        is_speech = fraction >= self.min_speech()
        self.vad_publisher.publish(VoiceActivityMsg(
            header=header, window=self.window_duration(), speech=bool(is_speech),
            speech_fraction=fraction, speech_probability=peak))
        if not is_speech or rms_db(audio) < self.live["min_rms_db"]:
            self.stats["windows_gated"] += 1
            return
        top_k = self.live["top_k"]
        if len(self.gallery):
            embedding, cohort = self.classifier.speaker_vector(audio, self.classifier.sample_rate)
            who = self.gallery.identify(embedding, self.similarity_threshold(), top_k, cohort)
            speaker, score, candidates = who.name, who.score, who.candidates
            self.stats["windows_open_set"] += 1
        elif self.names_labels():
            prediction = self.classifier.ranked(self.probabilities(audio), top_k)
            candidates, score = prediction.top, prediction.top[0][1]
            threshold = self.live["threshold"] if self.live["threshold"] >= 0 else 0.5
            speaker = prediction.label if score >= threshold else UNKNOWN
        else:
            speaker, score, candidates = UNKNOWN, 0.0, []
        self.publisher.publish(SpeakerId(
            header=header,
            window=self.window_duration(),
            speaker=speaker,
            score=float(score),
            candidate_labels=[name for name, _ in candidates],
            candidate_scores=[float(s) for _, s in candidates],
            model=self.model_name, **no_direction(header)))

    # --- services (their own callback group) -------------------------------------------

    def on_enroll(self, request: Enroll.Request, response: Enroll.Response) -> Enroll.Response:
        name = request.name
        # a cleanup may free them while this request runs: hold on to this request's
        classifier, gallery, vad = self.classifier, self.gallery, self.vad
        try:
            if classifier is None or gallery is None:
                raise Refused("the node is not configured (lifecycle state unconfigured)")
            name = check_name(request.name)
            if len(request.audio):
                rate = check_enroll_audio(len(request.audio), request.sample_rate)
                audio = np.asarray(request.audio, dtype=np.float32)
            else:
                audio, rate = self.recent_audio(request.recent_seconds), classifier.sample_rate
            if rms_db(audio) < self.live["min_rms_db"]:
                raise Refused(f"audio is too quiet to enroll ({rms_db(audio):.1f} dBFS, "
                              f"below min_rms_db {self.live['min_rms_db']})")
            # With the gate off (synthetic voices in tests, non-speech "speakers") all the
            # audio counts, and the floor is the plain length one.
            gated = self.min_speech() > 0
            embedding, speech_s = speech_embedding(
                classifier, vad if gated else None, audio, rate,
                self.window / classifier.sample_rate,
                MIN_SPEECH_S if gated else MIN_ENROLL_S)
            response.clips = gallery.enroll(name, embedding)
        except Exception as error:  # see the module's docstring
            response.success, response.message = False, f"not enrolled: {error}"
            self.get_logger().warning(f"enrollment of {name[:80]!r} refused: {error}")
            return response
        seconds = len(audio) / rate
        response.success = True
        response.message = (f"enrolled {name} from {speech_s:.1f} s of speech in {seconds:.1f} s "
                            f"of audio ({response.clips} enrollment(s) in total)")
        self.get_logger().info(f"{response.message}; gallery {gallery.path}")
        return response

    def recent_audio(self, seconds: float) -> np.ndarray:
        """The last `seconds` the node heard, at the model's rate, from the ring buffer."""
        rate = self.stream.rate  # the model's
        seconds = check_recent_seconds(seconds, held_s=self.stream.capacity / rate)
        audio, written = self.stream.recent(round(seconds * rate))
        if audio is None:
            heard = written / rate
            raise Refused("no audio heard yet" if written == 0 else
                          f"only {heard:.1f} s of audio heard since the stream started; "
                          f"ask for at most that, or wait")
        return audio

    def on_forget(self, request: Forget.Request, response: Forget.Response) -> Forget.Response:
        try:
            name = check_name(request.name)
            response.success = self.gallery.forget(name)
        except Refused as error:
            response.success, response.message = False, f"not forgotten: {error}"
            return response
        except Exception as error:  # see the module's docstring
            response.success, response.message = False, f"gallery not written: {error}"
            return response
        response.message = (f"forgot {name}" if response.success else
                            f"no speaker {name!r} (enrolled: "
                            f"{', '.join(self.gallery.names()) or 'none'})")
        self.get_logger().info(response.message)
        return response

    def on_list(self, request: ListSpeakers.Request,
                response: ListSpeakers.Response) -> ListSpeakers.Response:
        with self.gallery.lock:  # names and counts from one state of the gallery
            response.names = self.gallery.names()
            response.clips = [self.gallery.clips(n) for n in response.names]
        return response

    def extra_diagnostics(self) -> dict:
        return {"windows_gated": str(self.stats["windows_gated"]),
                "similarity_threshold": f"{self.similarity_threshold():.3f}",
                "min_speech_fraction": f"{self.min_speech():.2f}",
                "windows_open_set": str(self.stats["windows_open_set"]),
                "enrolled_speakers": str(len(self.gallery)) if self.gallery else "0"}


def main(args=None) -> None:
    run_node(SpeakerIdNode, "speaker_id", args, threads=3)  # services beside the audio


if __name__ == "__main__":
    main()
