"""Classifier on files and streams, with a model trained on synthetic audio (conftest)."""
import numpy as np
import pytest
import soundfile
import soxr
import torch

from degram_core import AudioError, Classifier, load_audio, load_model
from synthetic import LABELS, make_clip


@pytest.fixture(scope="module")
def classifier(trained_checkpoint):
    return Classifier(trained_checkpoint, device="auto")


def test_loaded_classifier_knows_its_labels(classifier):
    assert classifier.labels == LABELS and classifier.sample_rate == 16000


def test_auto_device_is_cuda_exactly_when_present_and_the_weights_follow(classifier,
                                                                         trained_checkpoint):
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert classifier.device.type == expected
    assert {p.device.type for p in classifier.model.parameters()} == {expected}
    on_cpu = Classifier(trained_checkpoint, device="cpu")
    assert on_cpu.device.type == "cpu"
    assert {p.device.type for p in on_cpu.model.parameters()} == {"cpu"}
    with pytest.raises(RuntimeError):
        Classifier(trained_checkpoint, device="no-such-device")


@pytest.mark.parametrize("label", LABELS)
def test_same_label_at_8_16_and_44k(classifier, label):
    clip = make_clip(label, 2.0, rate=44100, seed=7)
    answers = {}
    for rate in (8000, 16000, 44100):
        wave = soxr.resample(clip, 44100, rate) if rate != 44100 else clip
        answers[rate] = classifier.predict(wave, rate).label
    assert set(answers.values()) == {label}, answers


def test_any_length_and_multichannel(classifier):
    mono = make_clip("high", 0.05, seed=1)  # shorter than one STFT window
    assert classifier.predict(mono, 16000, top_k=2).top[0][0] in LABELS
    stereo = np.stack([make_clip("low", 1.5, seed=2), make_clip("low", 1.5, seed=3)], axis=1)
    prediction = classifier.predict(stereo, 16000, top_k=3)
    assert prediction.label == "low"
    assert len(prediction.top) == 3 and abs(prediction.probs.sum() - 1) < 1e-5
    assert [p for _, p in prediction.top] == sorted((p for _, p in prediction.top), reverse=True)


def test_bad_waveforms_are_refused(classifier):
    with pytest.raises(AudioError, match="empty"):
        classifier.predict(np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="NaN"):
        classifier.predict(np.array([0.0, np.nan] * 800, np.float32), 16000)


def test_predict_from_decoded_file(classifier, tmp_path):
    path = tmp_path / "clip.flac"
    soundfile.write(path, make_clip("noise", 1.2, rate=22050, seed=4), 22050)
    assert classifier.predict(load_audio(path), 16000).label == "noise"
    with pytest.raises(AudioError, match="missing.wav"):
        load_audio(tmp_path / "missing.wav")


def scene(rate: int = 16000) -> np.ndarray:
    """low, then noise, then high: 4.5 s."""
    return np.concatenate([make_clip(label, 1.5, rate=rate, seed=i)
                           for i, label in enumerate(["low", "noise", "high"])])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stream_in_random_chunks_equals_one_call(classifier, seed):
    clip = scene()
    whole = classifier.predict_windows(clip, 16000, window_s=1.0, hop_s=0.25)
    rng = np.random.default_rng(seed)
    stream = classifier.stream(window_s=1.0, hop_s=0.25)
    streamed, position = [], 0
    while position < len(clip):
        size = int(rng.integers(1, 6000))
        streamed += stream.feed(clip[position:position + size], 16000)
        position += size
    assert len(whole) == len(streamed) == 1 + (len(clip) - 16000) // 4000
    for a, b in zip(whole, streamed):
        assert (a.start_s, a.end_s) == (b.start_s, b.end_s)
        assert a.prediction.label == b.prediction.label
        np.testing.assert_allclose(a.prediction.probs, b.prediction.probs, atol=1e-5)
    # the scene's segments are recognised where they are
    assert whole[0].prediction.label == "low" and whole[-1].prediction.label == "high"
    assert whole[len(whole) // 2].prediction.label == "noise"
    assert stream.stream.capacity == 16000 + 4000  # one window and one hop are held
    # the whole clip as one chunk: every window all the same
    whole_chunk = classifier.stream(window_s=1.0, hop_s=0.25).feed(clip, 16000)
    assert [r.start_s for r in whole_chunk] == [r.start_s for r in whole]


def test_stream_resamples_other_rates_and_refuses_a_rate_change(classifier):
    clip = scene(rate=44100)
    stream = classifier.stream(window_s=1.0, hop_s=0.5)
    results = []
    for start in range(0, len(clip), 1234):
        results += stream.feed(clip[start:start + 1234], 44100)
    assert [r.start_s for r in results] == [0.5 * i for i in range(len(results))]
    assert results[0].prediction.label == "low" and results[-1].prediction.label == "high"
    with pytest.raises(AudioError, match="rate changed"):
        stream.feed(clip[:100], 16000)
    stream.reset()
    assert stream.feed(scene()[:16000], 16000)[0].start_s == 0.0


def test_non_finite_model_output_is_an_error_not_a_result(trained_checkpoint):
    from degram_core.runtime.classifier import ModelOutputError

    # Weights that diverged in training: finite, but the sums overflow to NaN.
    model = load_model(trained_checkpoint)
    with torch.no_grad():
        model.fc.weight.mul_(1e38)
    classifier = Classifier(model, device="cpu")
    wave = make_clip("low", 1.0, seed=1)
    with pytest.raises(ModelOutputError, match="NaN or infinity"):
        classifier.predict(wave, 16000)
    stream = classifier.stream(1.0, 0.5)
    with pytest.raises(ModelOutputError):
        stream.feed(wave, 16000)


def test_samples_beyond_full_scale_give_finite_answers(trained_checkpoint):
    classifier = Classifier(trained_checkpoint, device="cpu")
    wave = np.sign(make_clip("high", 1.0, seed=2)) * np.float32(3e38)  # finite float32
    prediction = classifier.predict(wave, 16000)
    assert np.isfinite(prediction.probs).all()
    assert np.isfinite(classifier.embed(wave, 16000)).all()
    # a stream clips as predict_windows does (it used not to: NaN scores, ModelOutputError)
    whole = classifier.predict_windows(wave, 16000, 0.5, 0.25)
    streamed = classifier.stream(0.5, 0.25).feed(wave, 16000)
    assert len(whole) == len(streamed) == 3
    for a, b in zip(whole, streamed):
        np.testing.assert_allclose(a.prediction.probs, b.prediction.probs, atol=1e-5)
