"""The one enrollment path: audio -> the embedding a gallery stores for it.

The audio is cut into half-overlapping windows of the node's length; those a gate passes are
embedded as they are, as the node embeds a window it identifies, and their unit embeddings
averaged and normalised (embeddings.centroid). So a centroid is made of the same kind of
window the node later compares with it, whoever enrolls: the speaker_id node's ~/enroll, the
demo, `degram enroll`, the benchmarks.

A gate (runtime/gates.py) says which stretches of the audio count: speech for a voice
(VoiceGate, the voice-activity gate the node attributes windows by), loud enough for a sound
(LoudnessGate). A window passes when at least `min_fraction` of its frames are active.

The first release joined the speech frames instead: a centroid of spliced speech, unlike any
window the node compares with it (with the shipped model the demo's two voices scored
0.16-0.54 against it, 0.73-0.92 against this one; its stranger at most 0.27 and 0.31).
"""
from __future__ import annotations

import numpy as np

from ..runtime.checks import MIN_ENROLL_S
from ..runtime.embeddings import centroid, l2_normalise
from ..runtime.gates import LoudnessGate, VoiceGate

# A voice is enrolled from at least this much speech: below it an embedding says more about
# the words than the voice.
MIN_SPEECH_S = 1.0


def window_starts(length: int, window: int) -> range:
    """Half-overlapping windows; audio shorter than one window is one window, all of it."""
    return range(0, max(1, length - window + 1), max(1, window // 2))


def gated_starts(audio: np.ndarray, rate: int, window: int, gate) -> tuple[list[int], float]:
    """(starts of the windows `gate` passes, seconds of active audio); no gate: every window,
    and all the audio counts."""
    starts = window_starts(len(audio), window)
    if gate is None:
        return list(starts), len(audio) / rate
    active, per_frame = gate.active(audio, rate)
    seconds = float(active.sum()) * per_frame / rate

    def fraction(start: int) -> float:
        inside = active[int(start / per_frame):int((start + window) / per_frame)]
        return float(inside.mean()) if inside.size else 0.0
    return [s for s in starts if fraction(s) >= max(gate.min_fraction, 1e-9)], seconds


def enrollment_embedding(classifier, wave: np.ndarray, sample_rate: int, window_s: float,
                         gate=None, min_seconds: float = MIN_SPEECH_S,
                         embed=None) -> tuple[np.ndarray, float]:
    """(the unit embedding a gallery stores for `wave`, seconds of active audio in it).
    `embed(window, rate) -> (D,)` is the model's embedding of one window (default
    classifier.embed; taught sounds use galleries.sounds.window_vector).

    ValueError, with a message for the person enrolling, when the gate finds less than
    `min_seconds` of active audio (or no window passes)."""
    audio = classifier.prepare(wave, sample_rate)
    rate = classifier.sample_rate
    window = max(1, round(window_s * rate))
    kept, seconds = gated_starts(audio, rate, window, gate)
    if seconds < min_seconds or not kept:
        what = gate.what if gate is not None else "audio"
        raise ValueError(f"only {seconds:.1f} s of {what} in {len(audio) / rate:.1f} s of audio; "
                         f"enrollment needs at least {min_seconds:g} s of {what}")
    embed = embed or classifier.embed
    embeddings = np.stack([embed(audio[s:s + window], rate) for s in kept])
    units = l2_normalise(embeddings.astype(np.float64))
    return centroid(units), seconds


def sound_embedding(classifier, wave: np.ndarray, sample_rate: int,
                    window_s: float) -> tuple[np.ndarray, float]:
    """How a sound is taught everywhere (the sound_events node's ~/teach, `degram teach`,
    bench/teach.py): `enrollment_embedding` behind the loudness gate, each window described by
    galleries.sounds.window_vector."""
    from .sounds import MIN_SOUND_S, window_vector

    return enrollment_embedding(classifier, wave, sample_rate, window_s, LoudnessGate(),
                                MIN_SOUND_S, embed=lambda w, rate: window_vector(classifier, w, rate))


def voice_gate(vad, min_fraction: float) -> VoiceGate | None:
    """The speaker_id node's gate at a resolved speech share; None when it is off (0)."""
    return VoiceGate(vad, min_fraction) if min_fraction > 0 else None


def voice_embedding(classifier, vad, wave: np.ndarray, sample_rate: int, window_s: float,
                    min_fraction: float) -> tuple[np.ndarray, float]:
    """How a voice is enrolled everywhere: `enrollment_embedding` behind the voice gate at
    `min_fraction` (resolved: operating_points.resolve("vad_min_speech", ...)). With the gate
    off (0: synthetic voices in tests, non-speech "speakers") all the audio counts, and the
    floor is the plain length one a request must meet anyway."""
    gate = voice_gate(vad, min_fraction)
    return enrollment_embedding(classifier, wave, sample_rate, window_s, gate,
                                MIN_SPEECH_S if gate is not None else MIN_ENROLL_S)
