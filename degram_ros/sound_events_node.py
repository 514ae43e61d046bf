"""sound_events: what is heard, every hop, on /sound_events (degram_ros/SoundEvents)."""
from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from degram_ros.msg import SoundEvent, SoundEvents

from .inference_node import InferenceNode
from .node_runner import run_node


class SoundEventsNode(InferenceNode):
    EXTRA_PARAMETERS = {
        "output_topic": ("/sound_events", "where SoundEvents are published"),
    }

    def __init__(self, name: str = "sound_events"):
        super().__init__(name)
        self.publisher = self.create_publisher(SoundEvents, self.param("output_topic"), 10)

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        probs = self.probabilities(audio)
        threshold, top_k = self.param("threshold"), self.param("top_k")
        order = np.argsort(-probs, kind="stable")[:top_k]
        events = [SoundEvent(label=self.classifier.labels[i], class_id=int(i), score=float(probs[i]))
                  for i in order if probs[i] >= threshold]
        self.publisher.publish(SoundEvents(
            header=Header(stamp=self.header_stamp(stamp_ns), frame_id=self.frame_id),
            window=self.window_duration(), events=events, model=self.model_name))


def main(args=None) -> None:
    run_node(SoundEventsNode, "sound_events", args)


if __name__ == "__main__":
    main()
