"""sound_events: what is heard, every hop, on sound_events (degram_ros/SoundEvents).

The events of a window follow `degram_core.runtime.events.reported`: with a model that knows
`background` (the shipped one does) a quiet window is published with an empty event list, so
subscribers still see time pass; `speech` is an event like any other. `classes` keeps only
the built-in labels a robot cares about.

Sounds a household teaches (`~/teach` with a name and audio or the last `recent_seconds`,
`~/forget`, `~/list`: degram_ros.gallery_services, the code speaker_id enrolls voices with) are
kept in a gallery file tied to the model (parameter `gallery`); each window is compared with
them (degram_core.galleries.sounds) and a taught sound at or above `teach_threshold` (the
model's own, chosen on validation with classes held out of training) is published like a
built-in event, with `taught` set and `class_id` -1.

With a microphone array (`array` or `mic_positions`) the model hears a beam towards the
window's loud frames, and each event gets the direction of its own frames
(runtime/spatial.py): `speech` its speech frames (Silero VAD, loaded only with an array),
every other event the loud frames that are not speech, so a dog barking over a voice and the
voice each get theirs.
"""
from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from degram_core.galleries.enrollment import sound_embedding
from degram_core.galleries.sounds import window_vector
from degram_core.runtime.checks import Refused
from degram_core.runtime.direction import Direction, heard_frames
from degram_core.runtime.events import BACKGROUND, SPEECH, reported
from degram_core.runtime.operating_points import event_thresholds, resolve
from degram_core.runtime.spatial import Heard
from degram_core.runtime.vad import SPEECH_PROBABILITY, VADError, VoiceActivity
from degram_ros.msg import SoundEvent, SoundEvents

from .direction_fields import direction_fields
from .gallery_services import GalleryServices
from .inference_node import InferenceNode
from .node_runner import StartupError, run_node


class SoundEventsNode(GalleryServices, InferenceNode):
    DEFAULTS = {"checkpoint": "models/sound_events.pt"}
    GALLERY_KIND = "sounds"
    ADD_SERVICE = "~/teach"
    WORDS = {"entry": "sound", "added": "taught", "verb": "teach", "holds": "sound"}
    EXTRA_LIVE = {"teach_threshold": (-1.0, 1.0)}
    EXTRA_PARAMETERS = {
        "classes": ("", "comma-separated built-in labels to report (e.g. 'dog,crying_baby'); "
                    "empty: all of them. Taught sounds are always reported"),
        "gallery": ("~/.ros/degram/sounds.json", "taught-sound gallery file (JSON; ~ expanded, "
                    "created on the first ~/teach), tied to the checkpoint"),
        "teach_threshold": (-1.0, "similarity below which a window is no taught sound; "
                            "negative: the model's own (degram info)"),
    }

    def __init__(self, name: str = "sound_events"):
        super().__init__(name)
        self.publisher, self.gallery, self.allowed, self.vad = None, None, None, None

    def configure_outputs(self) -> None:
        labels = self.classifier.labels
        wanted = [c.strip() for c in self.param("classes").split(",") if c.strip()]
        unknown = sorted(set(wanted) - set(labels))
        if unknown:
            raise StartupError(f"parameter 'classes' names {unknown}, which the model does not "
                               f"know; it knows {labels}")
        self.allowed = set(wanted) or None
        if self.spatial is not None:  # speech frames, to locate speech apart from the rest
            try:
                self.vad = VoiceActivity()
            except VADError as error:
                raise StartupError(f"parameter 'array': directions need the voice-activity "
                                   f"model: {error}") from None
        self.open_gallery()
        self.create_gallery_services()
        # a lifecycle publisher: silent unless the node is active
        self.publisher = self.create_lifecycle_publisher(SoundEvents, "sound_events", 10)
        labels = self.classifier.labels
        self.get_logger().info(
            f"event threshold {self.thresholds().min():.3f} ("
            f"{'parameter' if self.live['threshold'] >= 0 else 'the model'}); "
            + ("'background' windows publish no event" if BACKGROUND in labels else
               "the model has no 'background' class: every window names its best classes"))

    def release_outputs(self) -> None:
        self.destroy_gallery_services()
        self.gallery = self.vad = None
        if self.publisher is not None:
            self.destroy_lifecycle_publisher(self.publisher)
            self.publisher = None

    def thresholds(self) -> np.ndarray:
        """(C,) each class's lowest reported score: the parameter, else the model's own."""
        return event_thresholds(self.classifier.labels, self.live["threshold"], self.classifier)

    def teach_threshold(self) -> float:
        return resolve("teach_threshold", self.live["teach_threshold"], self.classifier)

    def check_entry_name(self, name: str) -> str:
        if name.lower() in {label.lower() for label in self.classifier.labels}:
            raise Refused(f"{name!r} is a built-in class of the model; teach it under another name")
        return name

    def gallery_embedding(self, classifier, audio: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
        return sound_embedding(classifier, audio, rate, self.window / classifier.sample_rate)

    def directions(self, heard: Heard | None, labels: list[str]) -> dict[str, Direction | None]:
        """{"speech": ..., "event": ...}: the direction of each kind of event among `labels`,
        each from its own frames; {} without array audio."""
        if heard is None or heard.audio is None or not labels:
            return {}
        speech = self.vad.frames(heard.mixed()) > SPEECH_PROBABILITY
        frames = heard_frames(speech, heard.loud)
        kinds = sorted({"speech" if label == SPEECH else "event" for label in labels})
        found = heard.locate_sources([frames[kind] for kind in kinds])
        return {kind: located.direction for kind, located in zip(kinds, found)}

    def taught(self, audio: np.ndarray) -> list[tuple[str, float]]:
        """(name, score) of the taught sound this window holds, if any (nothing when nobody
        taught one)."""
        gallery = self.gallery
        # taught sounds need the PyTorch backend (its stages); ~/teach refuses under onnxruntime
        if gallery is None or not len(gallery) or self.classifier.backend != "torch":
            return []
        vector = window_vector(self.classifier, audio, self.classifier.sample_rate)
        who = gallery.identify(vector, self.teach_threshold(), 1)
        if not who.known:
            return []
        return [(who.name, float(who.score))]

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        labels = self.classifier.labels
        heard = self.hear(audio, stamp_ns)
        audio = heard.model_audio() if heard is not None else audio
        found = reported(self.probabilities(audio), labels, self.thresholds(), self.live["top_k"],
                         self.allowed)
        header = Header(stamp=self.header_stamp(stamp_ns), frame_id=self.frame_id)
        taught = self.taught(audio)
        where = self.directions(heard, [labels[i] for i, _ in found] + [n for n, _ in taught])
        events = [SoundEvent(label=labels[i], class_id=i, score=score, **direction_fields(
                  where.get("speech" if labels[i] == SPEECH else "event"), header))
                  for i, score in found]
        # a taught sound's direction is an event's: its loud frames that are not speech
        events += [SoundEvent(label=name, class_id=-1, score=score, taught=True,
                              **direction_fields(where.get("event"), header))
                   for name, score in taught]
        events = sorted(events, key=lambda e: -e.score)[:self.live["top_k"]]
        self.stats["windows_quiet"] += not events
        self.publisher.publish(SoundEvents(
            header=header, window=self.window_duration(), events=events, model=self.model_name))

    def extra_diagnostics(self) -> dict:
        return {"windows_quiet": str(self.stats["windows_quiet"]),
                "event_threshold": f"{self.thresholds().min():.3f}",
                "taught_sounds": str(len(self.gallery)) if self.gallery else "0"}


def main(args=None) -> None:
    run_node(SoundEventsNode, "sound_events", args)


if __name__ == "__main__":
    main()
