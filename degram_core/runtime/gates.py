"""Gates: which stretches of audio count. VoiceGate is the voice-activity gate speaker_id
attributes windows by (and enrolls by, and `degram calibrate --vad` sets); LoudnessGate counts
loud frames, for sounds. Each says, frame by frame, what is active (`active`), and a window
passes when at least `min_fraction` of its frames are."""
from __future__ import annotations

import numpy as np

from .audio import resample
from .vad import FRAME, SPEECH_PROBABILITY


class VoiceGate:
    """Speech frames by Silero VAD (32 ms); a window is speech when at least `min_fraction` of
    its frames are. The gate the speaker_id node attributes windows by, and enrolls by."""

    what = "speech"

    def __init__(self, vad, min_fraction: float):
        self.vad, self.min_fraction = vad, min_fraction

    def active(self, audio: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
        """((F,) True where a frame is speech, samples at `rate` per frame)."""
        probs = self.vad.frames(resample(audio, rate, self.vad.sample_rate))
        return probs > SPEECH_PROBABILITY, FRAME * rate / self.vad.sample_rate

    def window(self, audio: np.ndarray, rate: int) -> tuple[bool, float, float]:
        """One window: (passes, share of speech frames, highest frame probability)."""
        fraction, peak = self.vad.speech_fraction(resample(audio, rate, self.vad.sample_rate))
        return fraction >= self.min_fraction, fraction, peak


class LoudnessGate:
    """Frames (32 ms) louder than `min_db` dBFS; a window counts when at least `min_fraction`
    of its frames are. For sounds, where speech frames say nothing."""

    what = "sound"

    def __init__(self, min_db: float = -40.0, min_fraction: float = 0.1, frame_s: float = 0.032):
        self.min_db, self.min_fraction, self.frame_s = min_db, min_fraction, frame_s

    def active(self, audio: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
        frame = max(1, round(self.frame_s * rate))
        count = len(audio) // frame
        power = np.mean(np.square(audio[:count * frame].reshape(count, frame), dtype=np.float64),
                        axis=1)
        return 10 * np.log10(power + 1e-12) >= self.min_db, float(frame)
