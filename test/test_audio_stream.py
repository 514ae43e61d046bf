"""The nodes' ROS-free plumbing: decoding audio_common payloads, resampling, the ring buffer."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from degram_core.validate import MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from degram_ros.audio_stream import (FORMATS, AudioFormat, BadAudio, Resampler, RingBuffer,
                                     StreamClock, decode, encode_s16le)

S16 = AudioFormat(16000, 1, "S16LE")


def test_s16le_round_trip_and_channel_mixing():
    audio = np.linspace(-0.5, 0.5, 160, dtype=np.float32)
    np.testing.assert_allclose(decode(encode_s16le(audio), S16, 10), audio, atol=1e-4)
    stereo = np.stack([audio, -audio], axis=1)  # L and R cancel
    data = (stereo * 32767).astype("<i2").tobytes()
    np.testing.assert_allclose(decode(data, AudioFormat(16000, 2, "S16LE"), 10), 0, atol=1e-4)


@pytest.mark.parametrize("fmt,dtype,scale", [("S32LE", "<i4", 2 ** 31), ("F32LE", "<f4", 1.0),
                                             ("S16BE", ">i2", 2 ** 15), ("U8", "u1", None)])
def test_other_formats(fmt, dtype, scale):
    audio = np.array([0.0, 0.25, -0.5], dtype=np.float32)
    raw = (audio * 127 + 128).astype("u1") if scale is None else (audio * scale).astype(dtype)
    np.testing.assert_allclose(decode(raw.tobytes(), AudioFormat(8000, 1, fmt), 10), audio, atol=0.01)


@pytest.mark.parametrize("data,fmt,reason", [
    (b"", S16, "empty"),
    (b"\x00\x01\x02", S16, "odd_length"),
    (b"\x00" * 8, AudioFormat(16000, 1, "MP3"), "unsupported_format"),
    (np.array([0.1, np.nan], "<f4").tobytes(), AudioFormat(16000, 1, "F32LE"), "not_finite"),
    (np.array([np.inf, 0], "<f4").tobytes(), AudioFormat(16000, 1, "F32LE"), "not_finite"),
    (b"\x00" * (2 * 16000 * 11), S16, "too_long"),
    (b"\x00" * 20, AudioFormat(1, 1, "S16LE"), "unsupported_format"),  # 10 s per 10 samples
    (b"\x00" * 20, AudioFormat(10**9, 1, "S16LE"), "unsupported_format"),
    (b"\x00" * 20, AudioFormat(0, 1, "S16LE"), "unsupported_format"),
    (b"\x00" * 20, AudioFormat(16000, 0, "S16LE"), "unsupported_format"),
    (b"\x00" * 130, AudioFormat(16000, 65, "S16LE"), "unsupported_format"),
])
def test_bad_payloads_name_their_reason(data, fmt, reason):
    with pytest.raises(BadAudio) as error:
        decode(data, fmt, max_seconds=10)
    assert error.value.reason == reason


def test_resampler_is_seamless_across_chunks():
    rate_in = 44100
    tone = np.sin(2 * np.pi * 440 * np.arange(rate_in) / rate_in).astype(np.float32)
    resample = Resampler(16000)
    pieces = [resample(tone[i:i + 1000], rate_in) for i in range(0, rate_in, 1000)]
    out = np.concatenate(pieces)
    assert 16000 - 500 < len(out) <= 16000  # the filter's delay is still inside the stream
    reference = np.sin(2 * np.pi * 440 * np.arange(len(out)) / 16000)
    lag = np.argmax(np.correlate(out[2000:4000], reference[2000:2400], mode="valid"))
    assert np.abs(out[2000 + lag:2000 + lag + 8000] - reference[2000:10000]).max() < 0.05
    np.testing.assert_array_equal(resample(tone[:100], 16000), tone[:100])  # 16 kHz passes through


def test_ring_buffer_keeps_the_newest_samples_and_their_times():
    ring = RingBuffer(capacity=10, rate=10)  # 10 Hz: sample i is 0.1 s after sample i-1
    ring.write(np.arange(6, dtype=np.float32), stamp_ns=5_000_000_000)
    ring.write(np.arange(6, 13, dtype=np.float32), stamp_ns=5_600_000_000)
    assert ring.written == 13
    np.testing.assert_array_equal(ring.read(3, 10), np.arange(3, 13))
    assert ring.read(2, 3) is None  # overwritten
    assert ring.read(10, 5) is None  # not yet written
    assert ring.stamp_ns(3) == 5_300_000_000 and ring.stamp_ns(12) == 6_200_000_000
    ring.write(np.arange(100, 125, dtype=np.float32), stamp_ns=6_300_000_000)  # longer than it holds
    assert ring.written == 38
    np.testing.assert_array_equal(ring.read(28, 10), np.arange(115, 125))
    assert ring.stamp_ns(28) == 6_300_000_000 + 1_500_000_000


REASONS = {"empty", "odd_length", "unsupported_format", "not_finite", "too_long"}


@settings(max_examples=1000, deadline=None)
@given(data=st.binary(max_size=4096),
       rate=st.one_of(st.sampled_from([8000, 16000, 44100, 48000]), st.integers(-10, 10**10)),
       channels=st.one_of(st.integers(1, 8), st.integers(-3, 100)),
       sample_format=st.one_of(st.sampled_from(sorted(FORMATS)), st.text(max_size=8)),
       max_seconds=st.floats(0.001, 20))
def test_any_payload_decodes_to_bounded_audio_or_names_its_reason(data, rate, channels,
                                                                  sample_format, max_seconds):
    fmt = AudioFormat(rate, channels, sample_format)
    try:
        audio = decode(data, fmt, max_seconds)
    except BadAudio as error:
        assert error.reason in REASONS, error
        return
    assert MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE and 1 <= channels <= MAX_CHANNELS
    frame = FORMATS[sample_format.upper()].itemsize * channels
    assert audio.dtype == np.float32 and audio.shape == (len(data) // frame,)
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert len(audio) <= max_seconds * rate


def test_floats_beyond_full_scale_are_clipped():
    # finite, but the model's sums overflow to NaN on them (fuzz run: score nan)
    data = np.array([3e38, -3e38, 0.5, 1.5], "<f4").tobytes()
    np.testing.assert_array_equal(decode(data, AudioFormat(16000, 1, "F32LE"), 10),
                                  [1.0, -1.0, 0.5, 1.0])


def test_stream_clock_counts_lost_audio_and_restarts():
    clock = StreamClock()
    second = 1_000_000_000
    assert not clock.update(10 * second, second)  # 10..11 s
    assert not clock.update(11 * second + 20_000_000, second)  # 20 ms late: jitter, not loss
    assert (clock.lost_ns, clock.gaps) == (0, 0)
    assert not clock.update(14 * second, second)  # 12.02..14 s never arrived
    assert clock.gaps == 1 and clock.lost_ns == 2 * second - 20_000_000
    assert clock.update(3 * second, second)  # backwards: a new stream, nothing lost
    assert not clock.update(4 * second, second)
    assert clock.gaps == 1
