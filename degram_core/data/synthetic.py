"""Synthetic families of what real places are full of and a sound-event model must not name:
motors and fans, engines that swell and pass, clicks and ticks, beeps, steady tones, bursts of
noise, room tone. Each is a function `(n, rng) -> (n,) float32` at a random level; `scene`
mixes one to three of them under each other, as a kitchen or a street does.

They train the `background` class (outlier exposure) and are mixed under events and speech
through the noise bank. Periodic short clicks at 0.5-3 per second are left out on purpose: that
is what a clock tick is.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

from ..runtime.audio import SAMPLE_RATE
from .mixing import at_level, room_tone

RATE = SAMPLE_RATE


def _bandpass(wave: np.ndarray, low: float, high: float) -> np.ndarray:
    high = min(high, RATE / 2 * 0.95)
    low = min(max(low, 20.0), high * 0.8)
    return sosfilt(butter(2, [low, high], btype="band", fs=RATE, output="sos"), wave)


def _harmonics(f0: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """A harmonic series on an instantaneous fundamental f0 (n,), random spectral slope."""
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    slope = rng.uniform(0.5, 2.0)
    wave = np.zeros_like(f0)
    for k in range(1, count + 1):
        if np.max(f0) * k >= RATE / 2:
            break
        wave += rng.uniform(0.3, 1.0) / k ** slope * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    return wave


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """A motor, fan, fridge or transformer: a steady fundamental of 25-400 Hz with harmonics
    and a little wobble, over air noise in a band of its own."""
    f0 = rng.uniform(25, 400) * (1 + 0.003 * np.sin(2 * np.pi * rng.uniform(0.1, 2) * np.arange(n) / RATE))
    air = _bandpass(rng.standard_normal(n), rng.uniform(50, 500), rng.uniform(1000, 7000))
    return at_level(_harmonics(f0, rng, 12) + rng.uniform(0, 1.5) * air / (np.std(air) + 1e-9),
                    rng.uniform(-60, -10))


def engine(n: int, rng: np.random.Generator) -> np.ndarray:
    """A car, bus or tram passing, a vacuum or a blender spinning up: a fundamental that glides,
    a level that swells and fades, rumble below it."""
    t = np.arange(n) / RATE
    start, end = rng.uniform(20, 150), rng.uniform(20, 200)
    f0 = np.linspace(start, end, n)
    centre, width = rng.uniform(0, n / RATE), rng.uniform(0.5, 4.0)
    envelope = np.exp(-0.5 * ((t - centre) / width) ** 2) + rng.uniform(0.02, 0.3)
    rumble = _bandpass(rng.standard_normal(n), 30, rng.uniform(300, 3000))
    wave = (_harmonics(f0, rng, 20) + rng.uniform(0.5, 3) * rumble / (np.std(rumble) + 1e-9)) * envelope
    return at_level(wave, rng.uniform(-50, -6))


def clicks(n: int, rng: np.random.Generator) -> np.ndarray:
    """Keys, a keyboard, cutlery, a turn signal: short decaying clicks at irregular times, or
    regular at 4-15 per second (faster than a clock)."""
    wave = np.zeros(n)
    if rng.random() < 0.5:
        times = np.sort(rng.uniform(0, n / RATE, int(rng.uniform(2, 12) * n / RATE)))
    else:
        times = np.arange(rng.uniform(0, 0.2), n / RATE, 1 / rng.uniform(4, 15))
    length = int(rng.uniform(0.002, 0.03) * RATE)
    decay = np.exp(-np.arange(length) / (length / 4))
    for time in times:
        i = int(time * RATE)
        click = rng.standard_normal(length) * decay * rng.uniform(0.3, 1.0)
        wave[i:i + length] += click[:max(0, min(length, n - i))]
    wave = _bandpass(wave, rng.uniform(200, 2000), rng.uniform(3000, 7900))
    return at_level(wave, rng.uniform(-50, -10))


def beeps(n: int, rng: np.random.Generator) -> np.ndarray:
    """A microwave, a reversing truck, a phone or an appliance: tone bursts of 0.05-0.6 s,
    repeated."""
    t = np.arange(n) / RATE
    tone = np.sin(2 * np.pi * rng.uniform(300, 4500) * t)
    if rng.random() < 0.4:  # two-tone
        tone = 0.5 * tone + 0.5 * np.sin(2 * np.pi * rng.uniform(300, 4500) * t)
    on, off = rng.uniform(0.05, 0.6), rng.uniform(0.05, 1.0)
    gate = ((t + rng.uniform(0, on + off)) % (on + off)) < on
    return at_level(tone * gate, rng.uniform(-45, -6))


def tones(n: int, rng: np.random.Generator) -> np.ndarray:
    """A charger's whine, a monitor, music's held chord: one to four steady tones."""
    t = np.arange(n) / RATE
    wave = sum(np.sin(2 * np.pi * rng.uniform(60, 7000) * t + rng.uniform(0, 6.3))
               for _ in range(int(rng.integers(1, 5))))
    return at_level(wave, rng.uniform(-55, -6))


def bursts(n: int, rng: np.random.Generator) -> np.ndarray:
    """A door, a tap, steam, a fan switching, a passing gust: bursts of band-limited noise of
    0.05-1.5 s, at random times or every 0.5-2 s."""
    wave = np.zeros(n)
    count = int(rng.integers(1, 6))
    period = rng.uniform(0.5, 2.0) if rng.random() < 0.4 else None
    for k in range(count):
        length = int(rng.uniform(0.05, 1.5) * RATE)
        start = int((k * period * RATE) % n) if period else int(rng.integers(0, n))
        burst = rng.standard_normal(length) * np.hanning(length) ** rng.uniform(0.1, 1)
        wave[start:start + length] += burst[:max(0, min(length, n - start))]
    wave = _bandpass(wave, rng.uniform(50, 2000), rng.uniform(2500, 7900))
    return at_level(wave, rng.uniform(-50, -3))


def quiet(n: int, rng: np.random.Generator) -> np.ndarray:
    """A quiet room: pink or brown noise, sometimes mains hum."""
    return room_tone(n, rng)


FAMILIES = {"hum": hum, "engine": engine, "clicks": clicks, "beeps": beeps, "tones": tones,
            "bursts": bursts, "quiet": quiet}


def scene(n: int, rng: np.random.Generator) -> np.ndarray:
    """One to three families mixed under each other, now and then clipped, offset or silent:
    (n,) float32 in [-1, 1]."""
    if rng.random() < 0.03:
        return np.zeros(n, np.float32)
    names = list(FAMILIES)
    picked = rng.choice(names, size=int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2])), replace=False)
    wave = sum(FAMILIES[name](n, rng) for name in picked)
    if rng.random() < 0.05:
        wave = wave + rng.uniform(-0.4, 0.4)  # DC offset
    if rng.random() < 0.05:
        wave = wave * 10 ** (rng.uniform(10, 30) / 20)  # a cheap microphone driven into clipping
    return np.clip(wave, -1, 1).astype(np.float32)
