"""speaker_id: who is speaking, every hop, on /speaker_id (degram_ros/SpeakerId).

Closed set: the speaker checkpoint's own labels. A window quieter than `min_rms_db` is not
attributed to anyone (counted as gated)."""
from __future__ import annotations

import numpy as np
from std_msgs.msg import Header

from degram_ros.msg import SpeakerId

from .inference_node import InferenceNode
from .node_runner import run_node


def rms_db(audio: np.ndarray) -> float:
    """Level in dB relative to full scale (a full-scale sine is -3 dB)."""
    return float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-12))


class SpeakerIdNode(InferenceNode):
    EXTRA_PARAMETERS = {
        "output_topic": ("/speaker_id", "where SpeakerId is published"),
        "min_rms_db": (-50.0, "energy gate: quieter windows are not attributed (dBFS; "
                       "-200 disables it)"),
    }

    def __init__(self, name: str = "speaker_id"):
        super().__init__(name)
        self.publisher = self.create_publisher(SpeakerId, self.param("output_topic"), 10)

    def handle_window(self, audio: np.ndarray, stamp_ns: int) -> None:
        if rms_db(audio) < self.param("min_rms_db"):
            self.stats["windows_gated"] += 1
            return
        probs = self.probabilities(audio)
        order = np.argsort(-probs, kind="stable")[:self.param("top_k")]
        best = int(order[0])
        known = probs[best] >= self.param("threshold")
        self.publisher.publish(SpeakerId(
            header=Header(stamp=self.header_stamp(stamp_ns), frame_id=self.frame_id),
            window=self.window_duration(),
            speaker=self.classifier.labels[best] if known else "unknown",
            score=float(probs[best]),
            candidate_labels=[self.classifier.labels[i] for i in order],
            candidate_scores=[float(probs[i]) for i in order],
            model=self.model_name))

    def extra_diagnostics(self) -> dict:
        return {"windows_gated": str(self.stats["windows_gated"])}


def main(args=None) -> None:
    run_node(SpeakerIdNode, "speaker_id", args)


if __name__ == "__main__":
    main()
