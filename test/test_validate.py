"""Request checks (degram_core.runtime.checks): whatever a client sends, a check returns a usable
value or raises Refused; never another exception, never a value outside the limits."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from degram_core.runtime.checks import (MAX_CHANNELS, MAX_ENROLL_S, MAX_NAME_CHARS, MAX_SAMPLE_RATE,
                                  MIN_ENROLL_S, MIN_SAMPLE_RATE, Refused, check_channels,
                                  check_enroll_audio, check_name, check_recent_seconds,
                                  check_sample_rate)

# What the fields of the services and AudioInfo can carry: any float32/uint32, any string.
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
ANY_RATE = st.one_of(st.integers(-2**40, 2**40), ANY_FLOAT)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_a_name_is_refused_or_one_short_printable_line(name):
    try:
        checked = check_name(name)
    except Refused:
        return
    assert checked == name.strip() and checked
    assert len(checked) <= MAX_NAME_CHARS and checked.isprintable()
    assert "\x00" not in checked and "\n" not in checked


@pytest.mark.parametrize("name,reason", [
    ("a\x00b", "printable"), ("alice\nERROR forged", "printable"), ("tab\there", "printable"),
    ("x" * 1_000_000, "at most 64"), ("   ", "non-empty"), ("", "non-empty")])
def test_bad_names_say_why(name, reason):
    with pytest.raises(Refused, match=reason):
        check_name(name)


def test_good_names_pass_trimmed():
    assert check_name("  Zoë O'Neill  ") == "Zoë O'Neill"
    assert check_name("x" * MAX_NAME_CHARS) == "x" * MAX_NAME_CHARS


@settings(max_examples=500, deadline=None)
@given(ANY_RATE)
def test_a_rate_is_refused_or_a_whole_number_in_range(rate):
    try:
        checked = check_sample_rate(rate)
    except Refused:
        return
    assert isinstance(checked, int) and MIN_SAMPLE_RATE <= checked <= MAX_SAMPLE_RATE


@pytest.mark.parametrize("rate", [0, 1, 8, 999, 384_001, 10**9, -16000, math.inf, math.nan, 16000.5])
def test_absurd_rates_are_refused(rate):
    with pytest.raises(Refused, match="sample_rate"):
        check_sample_rate(rate)


@given(st.integers(-2**40, 2**40))
def test_channels_in_range(channels):
    try:
        assert 1 <= check_channels(channels) <= MAX_CHANNELS
    except Refused:
        assert not 1 <= channels <= MAX_CHANNELS


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_enroll_audio_is_refused_or_bounded_in_seconds(samples, rate):
    try:
        checked = check_enroll_audio(samples, rate)
    except Refused:
        return
    assert checked == rate and MIN_ENROLL_S <= samples / rate <= MAX_ENROLL_S


def test_enroll_audio_limits_name_themselves():
    # 16,000 samples claimed at 8 Hz would be 2,000 s of audio to resample and embed
    with pytest.raises(Refused, match="sample_rate"):
        check_enroll_audio(16000, 8)
    with pytest.raises(Refused, match="too little"):
        check_enroll_audio(1600, 16000)
    with pytest.raises(Refused, match="too much"):
        check_enroll_audio(31 * 16000, 16000)
    assert check_enroll_audio(2 * 16000, 16000) == 16000


@settings(max_examples=500, deadline=None)
@given(ANY_FLOAT, st.floats(0, 100))
def test_recent_seconds_is_refused_or_finite_and_held(seconds, held_s):
    try:
        checked = check_recent_seconds(seconds, held_s)
    except Refused:
        return
    assert math.isfinite(checked) and MIN_ENROLL_S <= checked <= held_s


@pytest.mark.parametrize("seconds,reason", [
    (math.inf, "at least"), (math.nan, "at least"), (-1.0, "at least"), (0.2, "at least"),
    (1e30, "only the last"), (7.0, "only the last")])
def test_recent_seconds_refusals(seconds, reason):
    with pytest.raises(Refused, match=reason):
        check_recent_seconds(seconds, held_s=6.0)
