"""sound_events: what is heard, every hop, on sound_events (degram_ros/SoundEvents).

The events of a window follow `degram_core.runtime.events.reported`: with a model that knows
`background` (the shipped one does) a quiet window is published with an empty event list, so
subscribers still see time pass; `speech` is an event like any other.
"""
from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from degram_core.runtime.events import BACKGROUND, reported
from degram_core.runtime.operating_points import event_thresholds
from degram_ros.msg import SoundEvent, SoundEvents

from .inference_node import InferenceNode
from .node_runner import run_node


class SoundEventsNode(InferenceNode):
    DEFAULTS = {"checkpoint": "models/sound_events.pt"}

    def __init__(self, name: str = "sound_events"):
        super().__init__(name)
        self.publisher = None

    def configure_outputs(self) -> None:
        # a lifecycle publisher: silent unless the node is active
        self.publisher = self.create_lifecycle_publisher(SoundEvents, "sound_events", 10)
        labels = self.classifier.labels
        self.get_logger().info(
            f"event threshold {self.thresholds().min():.3f} ("
            f"{'parameter' if self.live['threshold'] >= 0 else 'the model'}); "
            + ("'background' windows publish no event" if BACKGROUND in labels else
               "the model has no 'background' class: every window names its best classes"))

    def release_outputs(self) -> None:
        if self.publisher is not None:
            self.destroy_lifecycle_publisher(self.publisher)
            self.publisher = None

    def thresholds(self) -> np.ndarray:
        """(C,) each class's lowest reported score: the parameter, else the model's own."""
        return event_thresholds(self.classifier.labels, self.live["threshold"], self.classifier)

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        labels = self.classifier.labels
        found = reported(self.probabilities(audio), labels, self.thresholds(), self.live["top_k"])
        events = [SoundEvent(label=labels[i], class_id=i, score=score) for i, score in found]
        self.stats["windows_quiet"] += not events
        self.publisher.publish(SoundEvents(
            header=Header(stamp=self.header_stamp(stamp_ns), frame_id=self.frame_id),
            window=self.window_duration(), events=events, model=self.model_name))

    def extra_diagnostics(self) -> dict:
        return {"windows_quiet": str(self.stats["windows_quiet"]),
                "event_threshold": f"{self.thresholds().min():.3f}"}


def main(args=None) -> None:
    run_node(SoundEventsNode, "sound_events", args)


if __name__ == "__main__":
    main()
