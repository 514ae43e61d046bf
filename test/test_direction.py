"""Direction of arrival on rooms simulated with pyroomacoustics: sources at known azimuths,
silence, and the bad input a microphone array gives (wrong channel count, coincident mics,
NaN, a dead channel)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from degram_core.runtime.direction import (PRESETS, Direction, GeometryError, Locator, geometry,
                                   loud_frames)

RATE = 16000


def noise_bursts(seconds: float, seed: int, on: list[tuple[float, float]] | None = None):
    """Broadband noise (100-6000 Hz) switched on in the given (start, end) seconds."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 100) | (freqs > 6000)] = 0
    wave = np.fft.irfft(spectrum, n)
    gate = np.zeros(n)
    for start, end in on or [(0.0, seconds)]:
        gate[int(start * RATE):int(end * RATE)] = 1.0
    return wave / np.abs(wave).max() * gate


def room(array: str, sources: list[tuple[float, np.ndarray]], rt60: float = 0.25,
         noise_db: float = -35.0, seed: int = 0) -> np.ndarray:
    """(M, N) at the mics of `array` in the middle of a 5 x 4 x 2.7 m room, each source 1.5 m
    away at its azimuth (degrees), plus sensor noise `noise_db` under the first source."""
    import pyroomacoustics as pra

    size = np.array([5.0, 4.0, 2.7])
    absorption, order = pra.inverse_sabine(rt60, size)
    shoebox = pra.ShoeBox(size, fs=RATE, materials=pra.Material(absorption),
                          max_order=min(order, 12))
    centre = np.array([2.4, 2.1, 1.0])
    for azimuth, signal in sources:
        a = np.deg2rad(azimuth)
        shoebox.add_source(centre + [1.5 * np.cos(a), 1.5 * np.sin(a), 0.3], signal=signal)
    shoebox.add_microphone_array(centre[:, None] + geometry(array).positions.T)
    shoebox.simulate()
    length = max(len(s) for _, s in sources)
    audio = shoebox.mic_array.signals[:, :length]
    scale = np.sqrt(np.mean(audio ** 2))
    rng = np.random.default_rng(seed)
    audio = audio + scale * 10 ** (noise_db / 20) * rng.standard_normal(audio.shape)
    return (0.3 * audio / np.abs(audio).max()).astype(np.float32)


def error_deg(direction: Direction, truth: float) -> float:
    return abs((np.rad2deg(direction.azimuth) - truth + 180) % 360 - 180)


@pytest.mark.parametrize("array, truth", [("respeaker_4mic", 60.0), ("respeaker_4mic", -135.0),
                                          ("respeaker_6mic", 100.0), ("respeaker_6mic", -20.0)])
def test_a_source_is_found_at_its_azimuth(array, truth):
    audio = room(array, [(truth, noise_bursts(1.0, seed=1))])
    found = Locator(geometry(array)).locate(audio)
    assert found.direction is not None, found.reason
    assert error_deg(found.direction, truth) <= 6.0
    assert found.direction.confidence > 0.1
    vector = found.direction.unit_vector()
    assert np.isclose(np.linalg.norm(vector), 1.0)
    assert np.isclose(np.rad2deg(np.arctan2(vector[1], vector[0])),
                      np.rad2deg(found.direction.azimuth))


def test_only_the_frames_heard_are_searched():
    """A source heard in the first half, another in the second: each frame mask finds its own."""
    first = noise_bursts(1.0, seed=2, on=[(0.0, 0.5)])
    second = noise_bursts(1.0, seed=3, on=[(0.5, 1.0)])
    audio = room("respeaker_4mic", [(30.0, first), (-110.0, second)])
    locator = Locator(geometry("respeaker_4mic"))
    halves = np.arange(RATE // 512) < 15
    assert error_deg(locator.locate(audio, halves).direction, 30.0) <= 8.0
    assert error_deg(locator.locate(audio, ~halves).direction, -110.0) <= 8.0


def test_two_sources_get_two_directions():
    """A voice-like source and an event taking turns, with overlap: one direction each from
    their own frames; and two sources at once give two peaks of one spectrum."""
    voice = noise_bursts(1.5, seed=4, on=[(0.0, 0.6), (1.2, 1.5)])
    event = noise_bursts(1.5, seed=5, on=[(0.5, 1.2)])
    audio = room("respeaker_6mic", [(70.0, voice), (-60.0, event)])
    frames = np.arange(int(1.5 * RATE) // 512) * 512 / RATE
    voice_frames = (frames < 0.6) | (frames >= 1.2)
    event_frames = (frames >= 0.5) & (frames < 1.2)
    locator = Locator(geometry("respeaker_6mic"))
    found = locator.locate_sources(audio, [voice_frames, event_frames])
    assert len(found) == 2 and all(f.direction is not None for f in found)
    assert error_deg(found[0].direction, 70.0) <= 8.0
    assert error_deg(found[1].direction, -60.0) <= 8.0
    together = room("respeaker_6mic", [(70.0, noise_bursts(1.0, seed=6)),
                                       (-60.0, noise_bursts(1.0, seed=7))])
    peaks = locator.peaks(together, count=2)
    assert len(peaks) == 2
    assert sorted(min(error_deg(p, t) for p in peaks) for t in (70.0, -60.0))[-1] <= 10.0


def test_silence_gives_no_direction():
    rng = np.random.default_rng(0)
    hiss = (1e-3 * rng.standard_normal((4, RATE))).astype(np.float32)  # uncorrelated: no source
    locator = Locator(geometry("respeaker_4mic"))
    found = locator.locate(hiss)
    assert found.direction is None and "peak" in found.reason
    floor = float(np.median(10 * np.log10(np.mean(hiss ** 2))))
    quiet = loud_frames(hiss, floor)
    assert not quiet.any()
    found = locator.locate(hiss, quiet)
    assert found.direction is None and "too few active frames" in found.reason


def test_geometry_presets_and_positions():
    for name, preset in PRESETS.items():
        geom = geometry(name)
        assert geom.count == len(preset["positions"]) and 4 <= geom.count <= 8
    assert geometry("ps3_eye").linear and not geometry("respeaker_4mic").linear
    parsed = geometry("0.05,0,0; 0,0.05,0; -0.05,0,0")
    assert parsed.count == 3 and np.allclose(parsed.positions[1], [0, 0.05, 0])


@pytest.mark.parametrize("spec, message", [
    ("0,0,0;0,0,0;0.05,0,0", "microphones 0 and 1 are at the same point"),
    ("0.1,0.2,0;0.1,0.2,0;0.1,0.2,0", "at the same point"),
    ("0,0,0;0,0,0.1", "differ only in height"),
    ("0,0,0", "at least 2 microphones"),
    ("1,2;3,4", "three numbers"),
    ("respeaker_9mic", "neither a preset"),
])
def test_bad_geometry_is_refused(spec, message):
    with pytest.raises(GeometryError, match=message):
        geometry(spec)


def test_channel_count_must_match():
    locator = Locator(geometry("respeaker_4mic"))
    with pytest.raises(GeometryError, match="5 channels but the respeaker_4mic geometry has 4"):
        locator.locate(np.zeros((5, RATE), dtype=np.float32))
    # a device stream with more channels than mics: the preset says which are the mics
    audio = room("respeaker_6mic", [(45.0, noise_bursts(1.0, seed=8))])
    stream = np.concatenate([audio, np.zeros((2, audio.shape[1]), dtype=np.float32)])
    found = Locator(geometry("respeaker_6mic")).locate(stream)
    assert error_deg(found.direction, 45.0) <= 6.0


@pytest.mark.parametrize("broken", ["nan", "dead"])
def test_a_broken_channel_is_left_out(broken):
    audio = room("respeaker_6mic", [(150.0, noise_bursts(1.0, seed=9))])
    if broken == "nan":
        audio[2, 5000] = np.nan
    else:
        audio[2] = 0.0
    locator = Locator(geometry("respeaker_6mic"))
    found = locator.locate(audio)
    assert found.dropped == (f"channel 2: {'NaN or infinity' if broken == 'nan' else 'dead'}",)
    assert error_deg(found.direction, 150.0) <= 6.0
    beam = locator.beam(audio, found.direction)
    assert beam.shape == (audio.shape[1],) and np.isfinite(beam).all()


def test_no_direction_when_too_few_channels_work():
    audio = room("respeaker_4mic", [(20.0, noise_bursts(1.0, seed=10))])
    locator = Locator(geometry("respeaker_4mic"))
    audio[1] = audio[3] = 0.0  # what is left, mics 0 and 2, lies on the x axis
    found = locator.locate(audio)
    assert found.direction is None and "on a line" in found.reason
    audio[2] = np.nan
    assert "fewer than 2 working channels" in locator.locate(audio).reason


def test_the_beam_favours_its_direction():
    """Delay-and-sum towards a source keeps it and loses uncorrelated noise: higher SNR than
    the channel mean."""
    rng = np.random.default_rng(11)
    clean = room("respeaker_6mic", [(-90.0, noise_bursts(1.0, seed=11))], noise_db=-80)
    noise = 0.05 * rng.standard_normal(clean.shape).astype(np.float32)
    locator = Locator(geometry("respeaker_6mic"))
    direction = Direction(np.deg2rad(-90.0), 0.0, 1.0)
    gain = []
    for toward in (direction, None):
        signal = locator.beam(clean, toward)
        residual = locator.beam(clean + noise, toward) - signal
        gain.append(10 * np.log10(np.mean(signal ** 2) / np.mean(residual ** 2)))
    assert gain[0] > gain[1] + 1.5  # measured 2.7 dB


def locate_cli(*args):
    return subprocess.run([sys.executable, "-m", "degram_core.cli", "locate", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_cli_json_and_errors(tmp_path):
    signal = noise_bursts(3.0, seed=12, on=[(0.0, 1.0), (2.0, 3.0)])
    audio = room("respeaker_4mic", [(-45.0, signal)])
    path = tmp_path / "scene.wav"
    soundfile.write(path, audio.T, RATE, subtype="FLOAT")
    result = locate_cli(path, "--array", "respeaker_4mic", "--json")
    assert result.returncode == 0, result.stderr
    windows = json.loads(result.stdout)["windows"]
    assert len(windows) == 5  # 1 s windows every 0.5 s of 3 s
    for w in windows:
        assert set(w) == {"start_s", "end_s", "azimuth_deg", "elevation_deg", "confidence", "label"}
        assert w["label"] is None
    assert abs(windows[0]["azimuth_deg"] + 45.0) <= 6.0 and windows[0]["confidence"] > 0
    assert abs(windows[4]["azimuth_deg"] + 45.0) <= 6.0
    # the same positions spelled out (with "=": the first coordinate is negative)
    mics = ";".join(",".join(str(v) for v in p) for p in PRESETS["respeaker_4mic"]["positions"])
    again = json.loads(locate_cli(path, f"--mics={mics}", "--json").stdout)["windows"]
    assert [w["azimuth_deg"] for w in again] == [w["azimuth_deg"] for w in windows]
    text = locate_cli(path, "--array", "respeaker_4mic")
    assert text.returncode == 0 and "azimuth" in text.stdout

    wrong = locate_cli(path, "--array", "respeaker_6mic", "--json")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().count("\n") == 0
    assert "4 channels but the respeaker_6mic geometry has 6 or 8" in wrong.stderr
    same = locate_cli(path, "--mics", "0,0,0;0,0,0;0.1,0,0;0,0.1,0")
    assert same.returncode == 2 and "same point" in same.stderr
    mono = tmp_path / "mono.wav"
    soundfile.write(mono, audio[0], RATE)
    alone = locate_cli(mono, "--array", "respeaker_4mic")
    assert alone.returncode == 2 and "one channel" in alone.stderr


def test_cli_labels_with_a_checkpoint(tmp_path, trained_checkpoint):
    from synthetic import make_clip

    tone = np.tile(make_clip("high", 2.0, seed=1), 1)
    audio = room("respeaker_4mic", [(120.0, tone)])
    path = tmp_path / "tone.wav"
    soundfile.write(path, audio.T, RATE, subtype="FLOAT")
    result = locate_cli(path, "--array", "respeaker_4mic", "--checkpoint", trained_checkpoint,
                        "--window-s", "1.0", "--hop-s", "1.0", "--json")
    assert result.returncode == 0, result.stderr
    windows = json.loads(result.stdout)["windows"]
    assert [w["label"] for w in windows] == ["high", "high"]
