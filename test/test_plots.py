"""degram plot: the PNGs exist, are real pictures, and draw the right filter banks."""
import numpy as np
import pytest
import soundfile
import torch
from matplotlib.image import imread

from degram_core import build_model, load_model, save_checkpoint
from degram_core.cli import main
from degram_core.nn.plots import (filter_bank_data, initial_sincgram, plot_filters,
                               representation_data)
from synthetic import LABELS, make_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A high tone, a quarter second of silence, a low tone: something to see in every panel."""
    path = tmp_path_factory.mktemp("audio") / "clip.wav"
    wave = np.concatenate([make_clip("high", 0.8, seed=1), np.zeros(4000, np.float32),
                           make_clip("low", 0.8, seed=2)])
    soundfile.write(path, wave, 16000)
    return path


def assert_real_picture(path):
    image = imread(path)  # raises on anything that is not a valid PNG
    height, width = image.shape[:2]
    assert 1400 <= width <= 1800 and 800 <= height <= 1000, (width, height)
    # The middle of the figure is plot area, never a uniform background.
    middle = image[height // 4: 3 * height // 4, width // 8: 7 * width // 8, :3]
    # An empty set of axes scores 0.03 here, the real pictures 0.2 to 0.4.
    assert middle.std() > 0.1, f"{path} looks blank"


def test_degram_model_writes_both_pictures(trained_checkpoint, clip, tmp_path, capsys):
    out = tmp_path / "plots"
    assert main(["plot", str(trained_checkpoint), str(clip), "-o", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "filters.png"), str(out / "representations.png")]
    for name in ("filters.png", "representations.png"):
        assert_real_picture(out / name)


def test_spectrogram_model_skips_filters_and_says_why(clip, tmp_path, capsys):
    checkpoint = tmp_path / "spec.pt"
    save_checkpoint(checkpoint, build_model("spectrogram-resnet-tiny", len(LABELS)).eval(), LABELS)
    assert main(["plot", str(checkpoint), str(clip), "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "filters.png skipped" in printed and "no SincGram" in printed
    assert not (tmp_path / "filters.png").exists()
    assert_real_picture(tmp_path / "representations.png")


def mel_filter_bank(cfg, freqs_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's initial bank, from the formulas alone: centres equally spaced in mel
    strictly inside (f_min, Nyquist), widths a quarter of the span between the neighbours
    (adjacent filters cross at -3 dB), Butterworth responses g(f). (centres, widths, g)."""
    nyquist = cfg.sample_rate / 2
    f_max = cfg.f_max or nyquist
    mel = np.linspace(2595 * np.log10(1 + cfg.f_min / 700), 2595 * np.log10(1 + f_max / 700),
                      cfg.n_filters + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    centres = edges[1:-1]
    half_bin = nyquist / (cfg.n_fft // 2) / 2
    widths = np.maximum((edges[2:] - edges[:-2]) / 4, half_bin * 1.01)
    g = 1 / np.sqrt(1 + ((freqs_hz[:, None] - centres) / widths) ** (2 * cfg.order))
    return centres, widths, g


def test_initial_filters_are_a_fresh_sincgram(trained_checkpoint):
    model = load_model(trained_checkpoint)
    cfg = model.frontend.cfg
    bins = np.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    centres, widths, bank = mel_filter_bank(cfg, bins)
    np.testing.assert_allclose(initial_sincgram(model).filters().detach().numpy(), bank,
                               atol=1e-4)
    data = filter_bank_data(model)
    np.testing.assert_allclose(data.initial_centres_hz, centres, rtol=1e-4)
    np.testing.assert_allclose(data.initial_widths_hz, widths, rtol=1e-3)
    np.testing.assert_allclose(data.initial, mel_filter_bank(cfg, data.freqs_hz)[2], atol=1e-4)
    # and the trained model's bank really did move away from it (else "learned" shows nothing)
    assert np.abs(data.learned_centres_hz - data.initial_centres_hz).max() > 1.0


def test_a_changed_filter_bank_is_drawn_changed(tmp_path):
    model = build_model("degram-resnet-tiny", 3)
    untrained = filter_bank_data(model)
    np.testing.assert_array_equal(untrained.learned, untrained.initial)
    with torch.no_grad():  # move filter 10 up by a factor of its own width
        sincgram = model.frontend.sincgram
        sincgram.centre_logit[10] += 0.2
        sincgram.width_raw[10] += 1.0
    moved = filter_bank_data(model)
    np.testing.assert_array_equal(moved.initial, untrained.initial)
    changed = np.abs(moved.learned - moved.initial).max(axis=0) > 1e-3
    assert changed.tolist() == [k == 10 for k in range(changed.size)]
    assert moved.learned_centres_hz[10] > moved.initial_centres_hz[10]
    assert moved.learned_widths_hz[10] > moved.initial_widths_hz[10]
    before = imread(plot_filters(untrained, tmp_path / "before.png"))
    after = imread(plot_filters(moved, tmp_path / "after.png"))
    assert_real_picture(tmp_path / "after.png")
    assert before.shape == after.shape and np.abs(before - after).max() > 0.1


def test_representation_data_follows_the_front_end(trained_checkpoint, clip):
    model = load_model(trained_checkpoint)
    wave = soundfile.read(clip, dtype="float32")[0]
    data = representation_data(model, wave)
    assert [name for name, _ in data.maps] == ["Spectrogram", "SincGram", "DEGram"]
    frames = len(wave) // 160 + 1
    assert [m.shape for _, m in data.maps] == [(frames, 257), (frames, 64), (frames, 64)]
    assert data.time_attention.shape == (frames,) and data.freq_attention.shape == (64,)
    # The attention sees the silent gap: it must not weight those frames like the tones.
    gap = data.time_attention[int(0.85 / 0.01):int(1.0 / 0.01)]
    tone = data.time_attention[int(0.2 / 0.01):int(0.6 / 0.01)]
    assert abs(gap.mean() - tone.mean()) > 0.05
    assert [label for label, _ in data.top][0] in LABELS and len(data.top) == 3
    scores = [score for _, score in data.top]
    assert scores == sorted(scores, reverse=True) and 0.99 < sum(scores) <= 1.0 + 1e-5


def test_no_attention_for_a_plain_sincgram(tmp_path):
    model = build_model("sincgram-resnet-tiny", 2).eval()
    data = representation_data(model, make_clip("low", 0.5))
    assert [name for name, _ in data.maps] == ["Spectrogram", "SincGram"]
    assert data.time_attention is None and data.freq_attention is None and len(data.top) == 2
    with pytest.raises(ValueError, match="eval mode"):  # SpecAugment would mask the picture
        representation_data(model.train(), make_clip("low", 0.5))


@pytest.mark.parametrize("broken", ["checkpoint", "audio"])
def test_a_bad_file_is_exit_2_naming_it(broken, trained_checkpoint, clip, tmp_path, capsys):
    bad = tmp_path / ("bad.pt" if broken == "checkpoint" else "bad.wav")
    bad.write_bytes(b"RIFF0000WAVEjunk")
    args = [bad, clip] if broken == "checkpoint" else [trained_checkpoint, bad]
    assert main(["plot", *map(str, args), "-o", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert str(bad) in error and error.startswith("degram plot: error:")
    assert not (tmp_path / "out").exists()  # nothing half written


def test_a_missing_checkpoint_is_exit_2(clip, tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    assert main(["plot", str(missing), str(clip)]) == 2
    assert f"{missing}: no such checkpoint file" in capsys.readouterr().err
