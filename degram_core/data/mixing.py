"""Waveform augmentation for training: recorded background noise, synthetic room tone, room
reverberation and gain. A robot hears every sound through a room and over a noise floor;
a model trained only on clean close-talk recordings takes the room for the source.

Each piece is a function or a small class of `(wave, rng) -> wave`, composed by `Augment`.
Only the first `train_fraction` of each noise recording is ever used here, so the rest of
each file stays unheard for evaluation (bench/false_events.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
from scipy.signal import fftconvolve

from ..runtime.audio import SAMPLE_RATE, load_audio

NOISE_TRAIN_FRACTION = 0.7


def power(wave: np.ndarray) -> float:
    return float(np.mean(np.square(wave, dtype=np.float64)))


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """signal + noise scaled so that the signal's power is `snr_db` above the noise's."""
    scale = math.sqrt(max(power(signal), 1e-12) / max(power(noise), 1e-12) / 10 ** (snr_db / 10))
    return (signal + scale * noise).astype(np.float32)


def at_level(wave: np.ndarray, dbfs: float) -> np.ndarray:
    """Scaled to an RMS of `dbfs` dB relative to full scale."""
    return (wave * math.sqrt(10 ** (dbfs / 10) / max(power(wave), 1e-20))).astype(np.float32)


def coloured_noise(length: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power spectral density ~ 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length)
    freqs[0] = freqs[1] if length > 1 else 1.0
    wave = np.fft.irfft(spectrum / freqs ** (exponent / 2), n=length)
    return (wave / math.sqrt(max(power(wave), 1e-20))).astype(np.float32)


def mains_hum(length: int, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """50 or 60 Hz and a few harmonics with random phases and decaying amplitudes, unit RMS."""
    base = rng.choice([50.0, 60.0])
    t = np.arange(length) / sample_rate
    wave = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi))
               for k in range(1, 6))
    return (wave / math.sqrt(max(power(wave), 1e-20))).astype(np.float32)


def room_tone(length: int, rng: np.random.Generator, level_db: tuple[float, float] = (-70, -30),
              sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A quiet room: pink or brown noise, sometimes with mains hum, at a level drawn in dBFS."""
    wave = coloured_noise(length, float(rng.choice([1.0, 2.0])), rng)
    if rng.random() < 0.4:
        wave = wave + rng.uniform(0.1, 1.0) * mains_hum(length, rng, sample_rate)
    return at_level(wave, rng.uniform(*level_db))


class NoiseBank:
    """Background recordings (each cut to its training part) to draw random stretches from."""

    def __init__(self, waves: list[np.ndarray]):
        self.waves = [w for w in waves if len(w)]
        if not self.waves:
            raise ValueError("a noise bank needs at least one non-empty recording")

    @classmethod
    def from_folder(cls, folder: str | Path, train_fraction: float = NOISE_TRAIN_FRACTION,
                    sample_rate: int = SAMPLE_RATE, exclude=()) -> "NoiseBank":
        paths = sorted(p for p in Path(folder).iterdir()
                       if p.suffix.lower() in {".wav", ".flac", ".ogg"} and p.stem not in exclude)
        if not paths:
            raise ValueError(f"{folder}: no .wav/.flac/.ogg noise recordings")
        waves = [load_audio(p, sample_rate) for p in paths]
        return cls([w[:int(len(w) * train_fraction)] for w in waves])

    def sample(self, length: int, rng: np.random.Generator) -> np.ndarray:
        wave = self.waves[int(rng.integers(len(self.waves)))]
        if len(wave) < length:
            wave = np.tile(wave, math.ceil(length / len(wave)))
        start = int(rng.integers(0, len(wave) - length + 1))
        return wave[start:start + length]


class RoomBank:
    """Room impulse responses simulated once with pyroomacoustics' image source method:
    shoebox rooms of random size and absorption, source and microphone at random places."""

    def __init__(self, count: int = 64, seed: int = 0, sample_rate: int = SAMPLE_RATE,
                 rt60_s: tuple[float, float] = (0.15, 0.8)):
        import pyroomacoustics as pra

        rng = np.random.default_rng(seed)
        self.rirs = []
        while len(self.rirs) < count:
            size = rng.uniform([3.0, 3.0, 2.4], [9.0, 7.0, 3.5])
            rt60 = rng.uniform(*rt60_s)
            try:
                absorption, max_order = pra.inverse_sabine(rt60, size)
            except ValueError:  # this room cannot reach that RT60
                continue
            room = pra.ShoeBox(size, fs=sample_rate, materials=pra.Material(absorption),
                               max_order=min(max_order, 12))
            room.add_source(rng.uniform(0.5, size - 0.5))
            room.add_microphone(rng.uniform(0.5, size - 0.5))
            room.compute_rir()
            rir = np.asarray(room.rir[0][0], dtype=np.float32)
            self.rirs.append(rir / (np.abs(rir).max() + 1e-9))

    def apply(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rir = self.rirs[int(rng.integers(len(self.rirs)))]
        wet = fftconvolve(wave, rir)[:len(wave)]
        # Keep the level of the dry clip: reverberation should change the room, not the gain.
        return (wet * math.sqrt(max(power(wave), 1e-12) / max(power(wet), 1e-12))).astype(np.float32)


def band_limit(wave: np.ndarray, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE,
               rates: tuple[int, ...] = (8000, 11025, 12000)) -> np.ndarray:
    """Down to a lower rate and back: the band of a phone line, a cheap microphone or an 8 kHz
    recording (FSDD's), with nothing above the new Nyquist frequency."""
    rate = int(rng.choice([r for r in rates if r < sample_rate] or [sample_rate]))
    if rate == sample_rate:
        return wave
    narrow = soxr.resample(soxr.resample(wave, sample_rate, rate), rate, sample_rate)
    return np.pad(narrow, (0, max(0, len(wave) - len(narrow))))[:len(wave)].astype(np.float32)


@dataclass
class Augment:
    """Reverberation, then background (a recording or synthetic room tone) at an SNR drawn in
    `snr_db`, then a narrower band, then gain in `gain_db`; each with its own probability."""

    noise: NoiseBank | None = None
    noise_prob: float = 0.0
    snr_db: tuple[float, float] = (5.0, 30.0)
    room_tone_prob: float = 0.0  # of the backgrounds added, this share is synthetic room tone
    rooms: RoomBank | None = None
    reverb_prob: float = 0.0
    band_limit_prob: float = 0.0
    gain_db: tuple[float, float] | None = None
    sample_rate: int = SAMPLE_RATE  # of the clips, for the mains hum of room tone

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.rooms is not None and rng.random() < self.reverb_prob:
            wave = self.rooms.apply(wave, rng)
        if rng.random() < self.noise_prob:
            if self.noise is None or rng.random() < self.room_tone_prob:
                background = room_tone(len(wave), rng, sample_rate=self.sample_rate)
            else:
                background = self.noise.sample(len(wave), rng)
            wave = mix_at_snr(wave, background, rng.uniform(*self.snr_db))
        if self.band_limit_prob and rng.random() < self.band_limit_prob:
            wave = band_limit(wave, rng, self.sample_rate)
        if self.gain_db is not None:
            wave = wave * np.float32(10 ** (rng.uniform(*self.gain_db) / 20))
        return np.clip(wave, -1.0, 1.0).astype(np.float32)


def mixup(waves, alpha: float, rng: np.random.Generator):
    """Mixup (Zhang et al. 2018) of a batch (B, N): every clip mixed with another of the same
    batch, share : 1 - share, one share ~ Beta(alpha, alpha) per batch, folded to >= 0.5 so the
    first clip leads. Returns (mixed, partner index (B,), share); the loss weighs the clip's
    target by share and the partner's by 1 - share."""
    import torch

    share = float(rng.beta(alpha, alpha))
    share = max(share, 1.0 - share)
    partner = torch.from_numpy(rng.permutation(len(waves))).to(waves.device)
    return share * waves + (1.0 - share) * waves[partner], partner, share
