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
        passes, fraction, peak, _ = self.frames(audio, rate)
        return passes, fraction, peak

    def frames(self, audio: np.ndarray, rate: int) -> tuple[bool, float, float, np.ndarray]:
        """window's answer and the speech flag of each 32 ms frame (where a voice is heard,
        e.g. to locate it)."""
        probs = self.vad.frames(resample(audio, rate, self.vad.sample_rate))
        speech = probs > SPEECH_PROBABILITY
        fraction = float(speech.mean()) if probs.size else 0.0
        peak = float(probs.max()) if probs.size else 0.0
        return fraction >= self.min_fraction, fraction, peak, speech


class LoudnessGate:
    """Frames (32 ms) within `below_peak_db` of the audio's loudest frame and above `floor_db`
    dBFS; a window counts when at least `min_fraction` of its frames are. For sounds, where
    speech frames say nothing: relative, because a quiet fridge taught is still the fridge,
    and a quiet lead-in or tail is not what was taught."""

    what = "sound"

    def __init__(self, below_peak_db: float = 20.0, floor_db: float = -70.0,
                 min_fraction: float = 0.03, frame_s: float = 0.032):
        # 0.03: two frames of a 2 s window; a bark or a knock is that short, and a window that
        # holds it holds the sound
        self.below_peak_db, self.floor_db = below_peak_db, floor_db
        self.min_fraction, self.frame_s = min_fraction, frame_s

    def active(self, audio: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
        frame = max(1, round(self.frame_s * rate))
        count = len(audio) // frame
        power = np.mean(np.square(audio[:count * frame].reshape(count, frame), dtype=np.float64),
                        axis=1)
        level = 10 * np.log10(power + 1e-12)
        peak = level.max() if count else self.floor_db
        return (level >= peak - self.below_peak_db) & (level >= self.floor_db), float(frame)
