"""sound_events: what is heard, every hop, on sound_events (degram_ros/SoundEvents).

The events of a window follow `degram_core.events.reported`: with a model that knows
`background` (the shipped one does) a quiet window is published with an empty event list, so
subscribers still see time pass; `speech` is an event like any other.
"""
from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from degram_core.events import BACKGROUND, DEFAULT_THRESHOLD, reported
from degram_ros.msg import SoundEvent, SoundEvents

from .direction_fields import no_direction
from .inference_node import InferenceNode
from .node_runner import run_node


class SoundEventsNode(InferenceNode):
    def __init__(self, name: str = "sound_events"):
        super().__init__(name)
        self.publisher = None

    def configure_outputs(self) -> None:
        # a lifecycle publisher: silent unless the node is active
        self.publisher = self.create_lifecycle_publisher(SoundEvents, "sound_events", 10)
        labels = self.classifier.labels
        self.get_logger().info(
            f"event threshold {self.threshold():.3f} ("
            f"{'parameter' if self.live['threshold'] >= 0 else 'the model'}); "
            + ("'background' windows publish no event" if BACKGROUND in labels else
               "the model has no 'background' class: every window names its best classes"))

    def release_outputs(self) -> None:
        if self.publisher is not None:
            self.destroy_lifecycle_publisher(self.publisher)
            self.publisher = None

    def threshold(self) -> float:
        own = self.live["threshold"]
        return own if own >= 0 else self.classifier.operating_point("event_threshold",
                                                                     DEFAULT_THRESHOLD)

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        labels = self.classifier.labels
        found = reported(self.probabilities(audio), labels, self.threshold(), self.live["top_k"])
        header = Header(stamp=self.header_stamp(stamp_ns), frame_id=self.frame_id)
        events = [SoundEvent(label=labels[i], class_id=i, score=score, **no_direction(header))
                  for i, score in found]
        self.stats["windows_quiet"] += not events
        self.publisher.publish(SoundEvents(
            header=header, window=self.window_duration(), events=events, model=self.model_name))

    def extra_diagnostics(self) -> dict:
        return {"windows_quiet": str(self.stats["windows_quiet"]),
                "event_threshold": f"{self.threshold():.3f}"}


def main(args=None) -> None:
    run_node(SoundEventsNode, "sound_events", args)


if __name__ == "__main__":
    main()
