"""Voice activity (degram_core.runtime.vad): Silero VAD from the silero-vad wheel on real synthetic
speech (espeak-ng) and on the non-speech a robot hears; a bad model file names itself."""
import numpy as np
import pytest

from degram_core.runtime.vad import FRAME, VADError, VoiceActivity
from synthetic import speak

RATE = 16000


@pytest.fixture(scope="module")
def vad():
    return VoiceActivity()


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return speak("Hello robot, please bring me a glass of water from the kitchen.",
                 tmp_path_factory.mktemp("speech") / "speech.wav")


def test_speech_is_speech(vad, speech):
    fraction, peak = vad.speech_fraction(speech)
    assert fraction > 0.6 and peak > 0.9


NON_SPEECH = {
    "silence": lambda t, rng: np.zeros_like(t),
    "dc_offset": lambda t, rng: np.full_like(t, 0.4),
    "clipping": lambda t, rng: np.clip(3 * rng.standard_normal(len(t)), -1, 1),
    "tone_1khz": lambda t, rng: 0.7 * np.sin(2 * np.pi * 1000 * t),
    "white_noise_full_scale": lambda t, rng: rng.uniform(-1, 1, len(t)),
}


@pytest.mark.parametrize("kind", sorted(NON_SPEECH))
def test_non_speech_is_not_speech(vad, kind):
    t = np.arange(2 * RATE) / RATE
    wave = NON_SPEECH[kind](t, np.random.default_rng(0)).astype(np.float32)
    fraction, _ = vad.speech_fraction(wave)
    assert fraction < 0.05, fraction


def test_frames_are_scored_from_a_fresh_state(vad, speech):
    # the same window scores the same whatever was scored before it
    first = vad.frames(speech[:RATE])
    vad.frames(np.random.default_rng(1).uniform(-1, 1, RATE).astype(np.float32))
    assert np.array_equal(first, vad.frames(speech[:RATE]))
    assert len(first) == RATE // FRAME


def test_the_voice_gate_keeps_the_windows_of_the_speech(vad, speech):
    """The gate enrollment uses (galleries.enrollment): seconds of speech, and the windows
    whose frames are at least half speech."""
    from degram_core.galleries.enrollment import gated_starts
    from degram_core.runtime.gates import VoiceGate

    silence = np.zeros(2 * RATE, np.float32)
    padded = np.concatenate([silence, speech, silence])
    starts, seconds = gated_starts(padded, RATE, RATE, VoiceGate(vad, 0.5))
    assert 0.6 * len(speech) / RATE < seconds < len(speech) / RATE + 0.5
    assert starts and 0 not in starts
    for start in starts:  # each window overlaps the speech by at least a quarter of itself
        assert 2 * RATE + RATE // 4 < start + RATE and start < 2 * RATE + len(speech) - RATE // 4


@pytest.mark.parametrize("problem", ["missing", "corrupt"])
def test_a_bad_model_file_is_named(tmp_path, problem):
    path = tmp_path / "vad.onnx"
    if problem == "corrupt":
        path.write_bytes(b"not an onnx model" * 50)
    with pytest.raises(VADError, match=str(path)):
        VoiceActivity(path)
