"""speaker_id: who is speaking, every hop, on /speaker_id (degram_ros/SpeakerId).

Two modes, chosen per window:
- open set, when the speaker gallery (parameter `gallery`) holds anyone: the window's embedding
  is compared with every enrolled speaker by cosine similarity, "unknown" below
  `similarity_threshold`. Speakers are enrolled at run time through the services
  `~/enroll` (given audio, or the last `recent_seconds` the node heard), `~/forget`, `~/list`;
  the gallery file is rewritten atomically after each change, so it survives restarts.
- closed set, while the gallery is empty: the checkpoint's own labels, "unknown" below
  `threshold` (what this node did before enrolment existed).
A window quieter than `min_rms_db` is not attributed to anyone (counted as gated).

Services run on the executor thread, windows on the worker thread (InferenceNode). Enrolment
embeds a few seconds once, so it is served in the callback; the subscription waits meanwhile
but its audio queue (`audio_qos_depth` messages) covers far longer than one embedding, and
recent audio is read from the ring buffer, which holds it already. Gallery changes and reads
are serialised by the gallery's lock.
"""
from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from degram_core.speakers import DEFAULT_THRESHOLD, Gallery, GalleryError, checkpoint_identity
from degram_ros.msg import SpeakerId
from degram_ros.srv import Enroll, Forget, ListSpeakers

from .inference_node import InferenceNode
from .node_runner import StartupError, run_node

# Below this an embedding says more about the words than the voice (FSDD's shortest digits
# are ~0.3 s); enrolment refuses shorter audio rather than store a poor centroid.
MIN_ENROL_S = 0.5


def rms_db(audio: np.ndarray) -> float:
    """Level in dB relative to full scale (a full-scale sine is -3 dB)."""
    return float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-12))


class EnrolRefused(ValueError):
    """An enrolment request that cannot be served; its message goes back to the caller."""


class SpeakerIdNode(InferenceNode):
    EXTRA_PARAMETERS = {
        "output_topic": ("/speaker_id", "where SpeakerId is published"),
        "min_rms_db": (-50.0, "energy gate: quieter windows are not attributed (dBFS; "
                       "-200 disables it)"),
        "gallery": ("~/.ros/degram/speakers.json", "speaker gallery file (JSON; ~ expanded, "
                    "created on first enrolment); with speakers in it, identification is open set"),
        "similarity_threshold": (DEFAULT_THRESHOLD, "cosine similarity below which a window is "
                                 "'unknown' in open-set mode (measured on FSDD, see README)"),
    }

    def __init__(self, name: str = "speaker_id"):
        super().__init__(name)
        path = self.param("gallery")
        try:
            model = checkpoint_identity(self.checkpoint_path)
            self.gallery = Gallery(path, model)
        except (GalleryError, OSError) as error:
            # Never start with an empty gallery instead: the speakers in the file would be
            # overwritten by the next enrolment.
            raise StartupError(f"cannot use the speaker gallery given by parameter 'gallery' "
                               f"({path!r}): {error}") from None
        self.publisher = self.create_publisher(SpeakerId, self.param("output_topic"), 10)
        self.create_service(Enroll, "~/enroll", self.on_enroll)
        self.create_service(Forget, "~/forget", self.on_forget)
        self.create_service(ListSpeakers, "~/list", self.on_list)
        names = self.gallery.names()
        mode = (f"{len(names)} speaker(s), open set" if names
                else "empty, closed set (checkpoint labels)")
        self.get_logger().info(f"gallery {self.gallery.path}: {mode}")

    # --- windows (worker thread) -------------------------------------------------------

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        if rms_db(audio) < self.param("min_rms_db"):
            self.stats["windows_gated"] += 1
            return
        top_k = self.param("top_k")
        if len(self.gallery):
            who = self.gallery.identify(self.classifier.embed(audio, self.classifier.sample_rate),
                                        self.param("similarity_threshold"), top_k)
            speaker, score, candidates = who.name, who.score, who.candidates
            self.stats["windows_open_set"] += 1
        else:
            probs = self.probabilities(audio)
            order = np.argsort(-probs, kind="stable")[:top_k]
            candidates = [(self.classifier.labels[i], float(probs[i])) for i in order]
            score = candidates[0][1]
            speaker = candidates[0][0] if score >= self.param("threshold") else "unknown"
        self.publisher.publish(SpeakerId(
            header=Header(stamp=self.header_stamp(stamp_ns), frame_id=self.frame_id),
            window=self.window_duration(),
            speaker=speaker,
            score=float(score),
            candidate_labels=[name for name, _ in candidates],
            candidate_scores=[float(s) for _, s in candidates],
            model=self.model_name))

    # --- services (executor thread) ----------------------------------------------------

    def on_enroll(self, request: Enroll.Request, response: Enroll.Response) -> Enroll.Response:
        name = request.name.strip()
        try:
            if not name:
                raise EnrolRefused("a speaker needs a non-empty name")
            if len(request.audio):
                audio, rate = self.given_audio(request)
            else:
                audio, rate = self.recent_audio(request.recent_seconds), self.classifier.sample_rate
            if rms_db(audio) < self.param("min_rms_db"):
                raise EnrolRefused(f"audio is too quiet to enrol ({rms_db(audio):.1f} dBFS, "
                                   f"below min_rms_db {self.param('min_rms_db')})")
            response.clips = self.gallery.enroll(name, self.classifier.embed(audio, rate))
        # GalleryError and AudioError are ValueErrors; RuntimeError is the model's own. Any of
        # them escaping would stop the executor, and with it the node.
        except (ValueError, OSError, RuntimeError) as error:
            response.success, response.message = False, f"not enrolled: {error}"
            self.get_logger().warning(f"enrolment of {name!r} refused: {error}")
            return response
        seconds = len(audio) / rate
        response.success = True
        response.message = (f"enrolled {name} from {seconds:.1f} s of audio "
                            f"({response.clips} clip(s) in total)")
        self.get_logger().info(f"{response.message}; gallery {self.gallery.path}")
        return response

    def given_audio(self, request: Enroll.Request) -> tuple[np.ndarray, int]:
        rate = int(request.sample_rate)
        if rate <= 0:
            raise EnrolRefused("sample_rate must be given (positive) with audio")
        audio = np.asarray(request.audio, dtype=np.float32)
        if len(audio) < MIN_ENROL_S * rate:
            raise EnrolRefused(f"{len(audio) / rate:.2f} s of audio is too little; give at "
                               f"least {MIN_ENROL_S} s")
        return audio, rate

    def recent_audio(self, seconds: float) -> np.ndarray:
        """The last `seconds` the node heard, at the model's rate, from the ring buffer."""
        if not seconds >= MIN_ENROL_S:  # also catches NaN
            raise EnrolRefused(f"with empty audio, recent_seconds must be at least {MIN_ENROL_S} "
                               f"(got {seconds:g})")
        rate = self.classifier.sample_rate
        wanted = round(seconds * rate)
        held_s = self.buffer.capacity / rate
        if wanted > self.buffer.capacity:
            raise EnrolRefused(f"only the last {held_s:.1f} s of audio are held; ask for less "
                               f"than recent_seconds {seconds:g}")
        with self.wake:
            written = self.buffer.written
            audio = self.buffer.read(written - wanted, wanted) if written >= wanted else None
        if audio is None:
            heard = written / rate
            raise EnrolRefused("no audio heard yet" if written == 0 else
                               f"only {heard:.1f} s of audio heard since the stream started; "
                               f"ask for at most that, or wait")
        return audio

    def on_forget(self, request: Forget.Request, response: Forget.Response) -> Forget.Response:
        try:
            response.success = self.gallery.forget(request.name)
        except OSError as error:
            response.success, response.message = False, f"gallery not written: {error}"
            return response
        response.message = (f"forgot {request.name}" if response.success else
                             f"no speaker {request.name!r} (enrolled: "
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
                "windows_open_set": str(self.stats["windows_open_set"]),
                "enrolled_speakers": str(len(self.gallery))}


def main(args=None) -> None:
    run_node(SpeakerIdNode, "speaker_id", args)


if __name__ == "__main__":
    main()
