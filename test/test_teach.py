"""`degram teach` with the shipped sound model: two sounds it never trained on, taught from
synthetic clips, then named in a fresh clip of each; and the clips and galleries it refuses."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from degram_core.cli import main

RATE = 16000
MODEL = Path(__file__).resolve().parent.parent / "models" / "sound_events.pt"
KEYS = {"threshold", "results"}
RESULT_KEYS = {"file", "sound", "score", "candidates"}


def beeps(seed: int, seconds: float = 3.0) -> np.ndarray:
    """A 440 Hz tone with harmonics, pulsed 0.25 s on, 0.25 s off."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 440 * h * t + rng.uniform(0, 6.3)) / h for h in (1, 2, 3))
    gate = (t % 0.5) < 0.25
    return (0.3 * tone * gate + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


def hiss_bursts(seed: int, seconds: float = 3.0) -> np.ndarray:
    """Noise band-passed to 3-6 kHz in 0.1 s bursts every 0.4 s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 3000) | (freqs > 6000)] = 0
    noise = np.fft.irfft(spectrum, n)
    gate = (np.arange(n) / RATE % 0.4) < 0.1
    return (0.4 * noise / np.abs(noise).max() * gate).astype(np.float32)


def write(path: Path, wave: np.ndarray) -> str:
    soundfile.write(path, wave, RATE)
    return str(path)


@pytest.fixture
def checkpoint(tmp_path) -> str:
    return str(shutil.copy(MODEL, tmp_path / "sound_events.pt"))


@pytest.fixture
def taught(tmp_path, checkpoint) -> str:
    gallery = str(tmp_path / "taught.json")
    for name, make in [("beeper", beeps), ("hiss", hiss_bursts)]:
        files = [write(tmp_path / f"{name}{i}.wav", make(seed=i)) for i in range(2)]
        assert main(["teach", checkpoint, gallery, name, *files]) == 0
    return gallery


def test_taught_sounds_are_named_in_new_clips(tmp_path, checkpoint, taught, capsys):
    new = [write(tmp_path / "new_beeper.wav", beeps(seed=7)),
           write(tmp_path / "new_hiss.wav", hiss_bursts(seed=7))]
    capsys.readouterr()
    assert main(["teach", checkpoint, taught, "--identify", *new, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == KEYS and isinstance(doc["threshold"], float)
    assert [set(r) for r in doc["results"]] == [RESULT_KEYS] * 2
    assert [r["file"] for r in doc["results"]] == new
    assert [r["sound"] for r in doc["results"]] == ["beeper", "hiss"]
    for r in doc["results"]:
        assert [set(c) for c in r["candidates"]] == [{"name", "score"}] * 2
        scores = [c["score"] for c in r["candidates"]]
        assert scores == sorted(scores, reverse=True) and r["score"] == scores[0]


def test_list_and_forget(checkpoint, taught, capsys):
    capsys.readouterr()
    assert main(["teach", checkpoint, taught, "--list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["beeper: 2 clip(s)", "hiss: 2 clip(s)"]
    assert main(["teach", checkpoint, taught, "--forget", "hiss"]) == 0
    assert main(["teach", checkpoint, taught, "--forget", "hiss"]) == 1
    assert "no taught sound 'hiss'" in capsys.readouterr().err
    assert main(["teach", checkpoint, taught, "--list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sounds": [{"name": "beeper", "clips": 2}]}


def refused(argv, capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("degram teach: error: ") and len(err.strip().splitlines()) == 1
    return err


def test_bad_clips_and_names_are_refused(tmp_path, checkpoint, capsys):
    gallery = tmp_path / "taught.json"
    silence = write(tmp_path / "silence.wav", np.zeros(3 * RATE, np.float32))
    assert "sound" in refused(["teach", checkpoint, str(gallery), "quiet", silence], capsys)
    short = write(tmp_path / "short.wav", beeps(seed=0, seconds=0.2))
    assert "too little" in refused(["teach", checkpoint, str(gallery), "blip", short], capsys)
    clip = write(tmp_path / "clip.wav", beeps(seed=0))
    assert "own labels" in refused(["teach", checkpoint, str(gallery), "dog", clip], capsys)
    assert not gallery.exists()  # nothing was taught


def test_gallery_of_another_model_or_kind_is_refused(tmp_path, taught, capsys):
    other = tmp_path / "other" / "sound_events.pt"  # same name, different weights
    other.parent.mkdir()
    data = bytearray(MODEL.read_bytes())
    data[-100] ^= 0xFF
    other.write_bytes(bytes(data))
    clip = write(tmp_path / "clip.wav", beeps(seed=3))
    assert "made with model" in refused(["teach", str(other), taught, "--identify", clip], capsys)
    speakers = tmp_path / "speakers.json"
    speakers.write_text(Path(taught).read_text().replace('"sounds"', '"speakers"'))
    assert "lacks 'sounds'" in refused(["teach", str(MODEL), str(speakers), "--list"], capsys)
    damaged = tmp_path / "damaged.json"
    damaged.write_text(Path(taught).read_text()[:50])
    assert "not a readable" in refused(["teach", str(MODEL), str(damaged), "--list"], capsys)
