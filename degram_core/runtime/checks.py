"""Checks of values that come from outside: a service request, a message's declared format.

Each check returns the value to use or raises Refused with a reason written for the caller.
They are plain functions so every node, the CLI and the property tests share one definition;
a robot's clients are programs, and the next odd value they send must be refused, not crash
or stall the node that took it.
"""
from __future__ import annotations

import math

# Audio rates a device or file can have (8 kHz telephony up to 384 kHz studio); outside it a
# declared rate is a mistake, and taken literally it invents or discards audio wholesale.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384_000
MAX_CHANNELS = 64
# A name is a label in logs, messages and the gallery file: one short printable line.
MAX_NAME_CHARS = 64
# Below MIN_ENROLL_S an embedding says more about the words than the voice (FSDD's shortest
# digits are ~0.3 s). Above MAX_ENROLL_S a request costs more memory and time than enrollment
# needs (embedding takes ~0.56 MB per second of audio); enroll long recordings in several clips.
MIN_ENROLL_S, MAX_ENROLL_S = 0.5, 30.0


class Refused(ValueError):
    """A request that cannot be served; the message goes back to the caller as is."""


def check_sample_rate(rate, what: str = "sample_rate") -> int:
    if isinstance(rate, float) and not rate.is_integer() or not isinstance(rate, (int, float)):
        raise Refused(f"{what} must be a whole number of Hz, got {rate!r}")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise Refused(f"{what} must be {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz, got {rate:g}")
    return int(rate)


def check_channels(channels) -> int:
    if not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
        raise Refused(f"channels must be 1..{MAX_CHANNELS}, got {channels!r}")
    return channels


def check_name(name) -> str:
    """A speaker name, surrounding spaces removed."""
    if not isinstance(name, str) or not name.strip():
        raise Refused("a speaker needs a non-empty name")
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        raise Refused(f"a name has at most {MAX_NAME_CHARS} characters, got {len(name)}")
    if not name.isprintable():  # NUL truncates it in C, a newline forges a log line
        bad = next(c for c in name if not c.isprintable())
        raise Refused(f"a name must be printable; {ascii(bad)} is not")
    return name


def check_enroll_audio(samples: int, rate) -> int:
    """The rate of `samples` given for enrollment, if their length is usable."""
    rate = check_sample_rate(rate)
    seconds = samples / rate
    if seconds < MIN_ENROLL_S:
        raise Refused(f"{seconds:.2f} s of audio is too little; give at least {MIN_ENROLL_S} s")
    if seconds > MAX_ENROLL_S:
        raise Refused(f"{seconds:.1f} s of audio is too much; give at most {MAX_ENROLL_S:g} s "
                      f"(enroll a longer recording as several clips)")
    return rate


def check_recent_seconds(seconds, held_s: float) -> float:
    """Seconds of recent audio to enroll from, given that the last `held_s` are held."""
    seconds = float(seconds)
    if not (math.isfinite(seconds) and seconds >= MIN_ENROLL_S):
        raise Refused(f"with empty audio, recent_seconds must be at least {MIN_ENROLL_S} "
                      f"(got {seconds:g})")
    if seconds > held_s:
        raise Refused(f"only the last {held_s:.1f} s of audio are held; ask for less than "
                      f"recent_seconds {seconds:g}")
    return seconds
