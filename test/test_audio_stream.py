"""Decoding audio_common payloads to frames of every channel, and the one downmix (the
listener around them: test_listener.py; the stream after decoding: test_stream.py)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from degram_core.runtime.checks import MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from degram_core.runtime.codecs import FORMATS, AudioFormat, BadAudio, decode, downmix, encode_s16le

S16 = AudioFormat(16000, 1, "S16LE")


def test_s16le_round_trip_and_channel_mixing():
    audio = np.linspace(-0.5, 0.5, 160, dtype=np.float32)
    np.testing.assert_allclose(decode(encode_s16le(audio), S16, 10), audio[None], atol=1e-4)
    stereo = np.stack([audio, -audio], axis=1)  # interleaved L and R, which cancel
    data = (stereo * 32767).astype("<i2").tobytes()
    frames = decode(data, AudioFormat(16000, 2, "S16LE"), 10)
    np.testing.assert_allclose(frames, stereo.T, atol=1e-4)  # (channels, samples), kept apart
    np.testing.assert_allclose(downmix(frames), 0, atol=1e-4)


@pytest.mark.parametrize("fmt,dtype,scale", [("S32LE", "<i4", 2 ** 31), ("F32LE", "<f4", 1.0),
                                             ("S16BE", ">i2", 2 ** 15), ("U8", "u1", None)])
def test_other_formats(fmt, dtype, scale):
    audio = np.array([0.0, 0.25, -0.5], dtype=np.float32)
    raw = (audio * 127 + 128).astype("u1") if scale is None else (audio * scale).astype(dtype)
    np.testing.assert_allclose(decode(raw.tobytes(), AudioFormat(8000, 1, fmt), 10)[0], audio,
                               atol=0.01)


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
    assert audio.dtype == np.float32 and audio.shape == (channels, len(data) // frame)
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert audio.shape[1] <= max_seconds * rate


def test_floats_beyond_full_scale_are_clipped():
    # finite, but the model's sums overflow to NaN on them (fuzz run: score nan)
    data = np.array([3e38, -3e38, 0.5, 1.5], "<f4").tobytes()
    np.testing.assert_array_equal(decode(data, AudioFormat(16000, 1, "F32LE"), 10),
                                  [[1.0, -1.0, 0.5, 1.0]])


def test_mp3_from_lamemp3enc_decodes_in_step_with_the_pcm():
    from degram_core.runtime.codecs import Mp3Stream
    from lame import lame_buffers

    rng = np.random.default_rng(7)
    audio = (rng.standard_normal(32000) * 0.05).astype(np.float32)
    audio[12000:12400] += np.sin(np.arange(400) * 0.3).astype(np.float32) * 0.6  # a burst
    buffers = lame_buffers(audio)
    t0 = 5_000_000_000
    stream, pieces, stamps = Mp3Stream(), [], []
    for data, pts in buffers:
        frames, rate, stamp_ns = stream.decode(data, t0 + pts, max_seconds=10)
        piece = downmix(frames)
        assert rate == 16000 and frames.shape[0] == 1
        if len(piece):
            stamps.append((stamp_ns, sum(map(len, pieces))))
            pieces.append(piece)
    decoded = np.concatenate(pieces)
    # every message is decoded as it arrives (nothing held back), the coder's delay cut
    assert len(decoded) == 576 * len(buffers) - 1105
    # sample n of the decoded stream is sample n of the input: no lag, close waveform
    n = len(audio) - 2000
    lags = [float(np.dot(decoded[10 + lag:10 + lag + n], audio[10:10 + n])) for lag in range(-5, 6)]
    assert int(np.argmax(lags)) - 5 == 0
    n = len(audio)
    error = decoded[:n] - audio
    # white noise is the hardest case for a perceptual coder: 13 dB SNR measured
    assert np.sqrt(np.mean(error ** 2)) < 0.3 * np.sqrt(np.mean(audio ** 2))
    # stamps: the first message's, then the count of samples
    assert all(s == t0 + round(k * 1e9 / 16000) for s, k in stamps), stamps[:3]


def test_mp3_split_at_odd_places_decodes_the_same_and_garbage_is_refused():
    from degram_core.runtime.codecs import Mp3Stream
    from lame import lame_buffers

    audio = np.sin(np.arange(16000) * 0.05).astype(np.float32) * 0.3
    data = b"".join(b for b, _ in lame_buffers(audio))
    whole = downmix(Mp3Stream().decode(data, 0, 10)[0])
    stream = Mp3Stream()
    pieces = [downmix(stream.decode(data[i:i + 1000], 0, 10)[0])
              for i in range(0, len(data), 1000)]
    split = np.concatenate(pieces)
    assert len(split) >= len(whole) - 576  # a frame may wait for the next one's header
    np.testing.assert_allclose(split[:len(whole) - 576], whole[:len(whole) - 576], atol=1e-6)
    with pytest.raises(BadAudio) as error:
        Mp3Stream().decode(data, 0, max_seconds=0.5)
    assert error.value.reason == "too_long"
    # random bytes are refused, and good frames after them still decode
    garbage = Mp3Stream()
    refused = 0
    for seed in range(3):
        try:
            garbage.decode(np.random.default_rng(seed).bytes(4000), 0, 10)
        except BadAudio as error:
            assert error.reason == "undecodable"
            refused += 1
    assert refused >= 1
    assert garbage.decode(data, 0, 10)[0].shape[1] >= len(whole) - 2 * 576


@pytest.mark.parametrize("coding,expected", [("", "pcm"), ("wave", "pcm"), ("MP3", "mp3")])
def test_codings(coding, expected):
    from degram_core.runtime.codecs import check_coding
    assert check_coding(coding) == expected


def test_other_codings_are_refused_with_what_to_do():
    from degram_core.runtime.codecs import check_coding
    with pytest.raises(BadAudio) as error:
        check_coding("flac")
    assert error.value.reason == "unsupported_coding" and "format:=wave" in str(error.value)
