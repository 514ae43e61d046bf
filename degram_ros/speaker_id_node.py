"""speaker_id: who is speaking, every hop, on speaker_id (degram_ros/SpeakerId).

Two modes, chosen per window:
- open set, when the speaker gallery (parameter `gallery`) holds anyone: the window's embedding
  is compared with every enrolled speaker by cosine similarity (T-normalised by the model's
  training speakers when the model says so: `tnorm_scale`), "unknown" below
  `similarity_threshold`. Speakers are enrolled at run time through the services
  `~/enroll` (given audio, or the last `recent_seconds` the node heard), `~/forget`, `~/list`,
  by degram_core.galleries.enrollment: the one path the demo and `degram enroll` take too
  (the node's windows, the voice gate, averaging); the gallery file is rewritten atomically
  after each change, so it survives restarts.
- with nobody enrolled: "unknown" for a speaker-embedding model (the shipped one was trained
  on strangers, whose names mean nothing to a robot); a closed-set model (FSDD's, or one of your
  own) names its own labels, "unknown" below `threshold`. `closed_set` overrides the choice.
Only speech is attributed: Silero VAD scores every window and a window whose share of speech
frames is under `min_speech_fraction` (or quieter than `min_rms_db`) publishes no SpeakerId and
is counted as gated. With a microphone array (`array` or `mic_positions`) a SpeakerId carries
the direction of the window's speech frames (its loud frames with the gate off), and the model
hears a beam towards it (runtime/spatial.py). Every window's voice activity is published on
`voice_activity`, since a behaviour may want "someone is talking" even when nobody is known.

The services are degram_ros.gallery_services, shared with sound_events' taught sounds. The
gallery and the voice-activity model are loaded at configure, with the model, and the services
exist from configure to cleanup.
"""
from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from degram_core.galleries.enrollment import voice_embedding
from degram_core.galleries.gallery import UNKNOWN
from degram_core.runtime.checks import Refused
from degram_core.runtime.gates import VoiceGate
from degram_core.runtime.operating_points import resolve
from degram_core.runtime.vad import VADError, VoiceActivity
from degram_ros.msg import SpeakerId, VoiceActivity as VoiceActivityMsg

from .direction_fields import direction_fields
from .gallery_services import SERVICE_QUEUE_DEPTH, GalleryServices, rms_db  # noqa: F401
from .inference_node import InferenceNode
from .node_runner import StartupError, run_node

CLOSED_SET = ("auto", "true", "false")


class SpeakerIdNode(GalleryServices, InferenceNode):
    HISTORY_S = 20.0  # enrollment from the room may look back this far (recent_seconds)
    DEFAULTS = {"checkpoint": "models/speaker_id.pt"}
    EXTRA_LIVE = {
        "similarity_threshold": (-1.0, 100.0),  # cosine, or T-normalised (standard deviations)
        "min_rms_db": (-200.0, 0.0),
        "min_speech_fraction": (-1.0, 1.0),
    }
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
        self.gallery_services, self.gallery, self.vad = [], None, None

    def configure_outputs(self) -> None:
        self.open_gallery()
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
        self.create_gallery_services()
        names = self.gallery.names()
        mode = (f"{len(names)} speaker(s), open set" if names
                else "empty, closed set (checkpoint labels)" if self.names_labels()
                else "empty: every speaker is 'unknown' until enrolled (~/enroll)")
        self.get_logger().info(
            f"gallery {self.gallery.path}: {mode}; similarity threshold "
            f"{self.similarity_threshold():.3f}, speech fraction {self.min_speech():.2f}")

    def release_outputs(self) -> None:
        self.destroy_gallery_services()
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
        return resolve("similarity_threshold", self.live["similarity_threshold"], self.classifier)

    def min_speech(self) -> float:
        return resolve("vad_min_speech", self.live["min_speech_fraction"], self.classifier)

    # --- windows (worker thread) -------------------------------------------------------

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        header = Header(stamp=self.header_stamp(stamp_ns), frame_id=self.frame_id)
        gate = VoiceGate(self.vad, self.min_speech())  # 0: every window passes
        heard = self.hear(audio, stamp_ns)
        if heard is not None:  # the working channels' mean: a NaN or dead channel left out
            audio = heard.mixed()
        is_speech, fraction, peak, speech = gate.frames(audio, self.classifier.sample_rate)
        self.vad_publisher.publish(VoiceActivityMsg(
            header=header, window=self.window_duration(), speech=bool(is_speech),
            speech_fraction=fraction, speech_probability=peak))
        if not is_speech or rms_db(audio) < self.live["min_rms_db"]:
            self.stats["windows_gated"] += 1
            return
        direction = None
        if heard is not None and heard.audio is not None:
            # the gate off (0): a voice may be anything heard, so its loud frames
            found = heard.locate(speech if self.min_speech() > 0 else heard.loud)
            direction, audio = found.direction, heard.beam(found.direction)
        top_k = self.live["top_k"]
        if len(self.gallery):
            embedding, cohort = self.classifier.speaker_vector(audio, self.classifier.sample_rate)
            who = self.gallery.identify(embedding, self.similarity_threshold(), top_k, cohort)
            speaker, score, candidates = who.name, who.score, who.candidates
            self.stats["windows_open_set"] += 1
        elif self.names_labels():
            prediction = self.classifier.ranked(self.probabilities(audio), top_k)
            candidates, score = prediction.top, prediction.top[0][1]
            threshold = resolve("label_threshold", self.live["threshold"], self.classifier)
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
            model=self.model_name, **direction_fields(direction, header)))

    # --- services (their own callback group) -------------------------------------------

    def check_entry_name(self, name: str) -> str:
        return name

    def gallery_embedding(self, classifier, audio: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
        if rms_db(audio) < self.live["min_rms_db"]:
            raise Refused(f"audio is too quiet to enroll ({rms_db(audio):.1f} dBFS, "
                          f"below min_rms_db {self.live['min_rms_db']})")
        return voice_embedding(classifier, self.vad, audio, rate,
                               self.window / classifier.sample_rate, self.min_speech())

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
