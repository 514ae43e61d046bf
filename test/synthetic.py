"""Audio made in the tests, so the suite needs no dataset: three classes a tiny model learns fast.

low: a 300-500 Hz tone; high: a 2-3 kHz tone; noise: noise low-passed at 3.5 kHz. All content
stays below 4 kHz, so a clip keeps its class when resampled to 8 kHz.
"""
import numpy as np

LABELS = ["low", "high", "noise"]


def make_clip(label: str, seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    if label in ("low", "high"):
        lo, hi = (300, 500) if label == "low" else (2000, 3000)
        freq = rng.uniform(lo, hi)
        wave = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        wave += 0.05 * lowpassed_noise(n, rate, rng)
    elif label == "noise":
        wave = lowpassed_noise(n, rate, rng)
    else:
        raise ValueError(label)
    return (0.5 * rng.uniform(0.3, 1.0) * wave).astype(np.float32)


def lowpassed_noise(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[np.fft.rfftfreq(n, 1 / rate) > 3500] = 0
    wave = np.fft.irfft(spectrum, n)
    return wave / (np.abs(wave).max() + 1e-9)


def make_batch(batch: int, seconds: float, seed: int):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, len(LABELS), batch)
    waves = [make_clip(LABELS[t], seconds, seed=int(rng.integers(1 << 30))) for t in targets]
    return np.stack(waves), targets


def speak(text: str, path, rate: int = 16000) -> np.ndarray:
    """Real synthetic speech from espeak-ng (a Debian package `make test` installs), at `rate`."""
    import subprocess

    from degram_core.runtime.audio import load_audio

    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    return load_audio(path, rate)
