"""Every registered model takes any length and returns (B, num_classes)."""
import pytest
import torch

from degram_core import build_model, list_models

REQUIRED = ["degramnet", "degram-resnet18", "sincgram-resnet18", "despectrogram-resnet18",
            "spectrogram-resnet18", "spectrogram-resnet34", "spectrogram-resnet50"]


def test_registry_has_the_paper_models_and_a_small_one():
    names = list_models()
    for name in REQUIRED:
        assert name in names
    tiny = build_model("degram-resnet-tiny", 10)
    assert sum(p.numel() for p in tiny.parameters()) < 2_000_000


@pytest.mark.parametrize("name", list_models())
def test_shapes_on_short_and_long_audio(name):
    torch.manual_seed(0)
    model = build_model(name, 7).eval()
    with torch.inference_mode():
        for seconds in (1.0, 7.3):
            wave = torch.randn(2, int(16000 * seconds))
            logits = model(wave)
            assert logits.shape == (2, 7)
            assert torch.isfinite(logits).all()
            assert model.embed(wave).shape == (2, model.embedding_dim)


def test_specaugment_only_in_training():
    model = build_model("degram-resnet-tiny", 3)
    wave = torch.randn(2, 16000)
    model.eval()
    assert torch.equal(model(wave), model(wave))
    x = torch.ones(4, 300, 64)
    model.specaugment.train()
    torch.manual_seed(1)
    masked = model.specaugment(x)
    assert (masked == 0).any() and (masked == 1).any()
    model.specaugment.eval()
    assert torch.equal(model.specaugment(x), x)


def test_overrides_reach_the_front_end_and_unknown_ones_fail():
    model = build_model("degram-resnet18", 3, n_filters=32, order=2, aggregation="mean")
    assert model.frontend.sincgram.centre_logit.shape == (32,)
    assert model.frontend.tf_delayer.aggregation == "mean"
    with pytest.raises(ValueError, match="n_filter"):
        build_model("degram-resnet18", 3, n_filter=32)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("mel-resnet18", 3)


def test_representations_expose_every_stage():
    model = build_model("degram-resnet-tiny", 3).eval()
    wave = torch.randn(1, 16000)
    reps = model.representations(wave)
    assert reps["spectrogram"].shape == (1, 101, 257)
    assert reps["sincgram"].shape == (1, 101, 64)
    assert reps["freq_attention"].shape == (1, 64)
    assert reps["time_attention"].shape == (1, 101)
    with torch.no_grad():
        assert torch.allclose(reps["output"], model.frontend(wave))
