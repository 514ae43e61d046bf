"""The representation: SincGram's filters, TF-DELayer's shapes, gradients, ECA kernel sizes."""
import math

import pytest
import torch

from degram_core import build_model
from degram_core.nn.eca import ECA, eca_kernel_size
from degram_core.nn.frontend import DEGram, Spectrogram
from degram_core.nn.frontend_config import FrontendConfig
from degram_core.nn.sincgram import SincGram
from degram_core.nn.tf_delayer import TFDELayer


def test_spectrogram_has_257_bins_every_10_ms():
    out = Spectrogram()(torch.randn(2, 16000))
    assert out.shape == (2, 101, 257)  # centred frames: 1 + 16000 / 160


def test_degram_reduces_to_64_bands_before_any_convolution():
    assert DEGram()(torch.randn(3, 8000)).shape == (3, 51, 64)


def test_sincgram_filters_are_butterworth_shaped():
    sincgram = SincGram()
    with torch.no_grad():  # move the filters off their initial values: the shape must hold anywhere
        sincgram.centre_logit.add_(torch.linspace(-0.3, 0.3, 64))
        sincgram.width_raw.add_(0.5)
    a, b = sincgram.centres_hz.detach(), sincgram.widths_hz.detach()
    order = sincgram.cfg.order
    assert torch.allclose(sincgram.response(a).diagonal(), torch.ones(64), atol=1e-6)
    for edge in (a - b, a + b):
        assert torch.allclose(sincgram.response(edge).diagonal(), torch.full((64,), 1 / math.sqrt(2)),
                              atol=1e-5)
    expected = torch.full((64,), 1 / math.sqrt(1 + 2 ** (2 * order)))  # at two widths
    assert torch.allclose(sincgram.response(a + 2 * b).diagonal(), expected, atol=1e-6)
    assert sincgram.filters().shape == (257, 64)


def test_sincgram_initial_centres_are_mel_spaced():
    centres = SincGram().centres_hz.detach().double()
    mel = 2595 * torch.log10(1 + centres / 700)
    steps = mel.diff()
    assert torch.allclose(steps, steps.mean().expand_as(steps), rtol=1e-3)
    assert 0 < centres[0] < 200 and 7000 < centres[-1] < 8000


def test_sincgram_centres_stay_in_band_and_widths_positive_however_pushed():
    sincgram = SincGram()
    with torch.no_grad():
        sincgram.centre_logit.copy_(torch.linspace(-1e4, 1e4, 64))
        sincgram.width_raw.fill_(-1e4)
    assert (sincgram.centres_hz >= 0).all() and (sincgram.centres_hz <= 8000).all()
    assert (sincgram.widths_hz > 0).all()
    assert torch.isfinite(sincgram(torch.rand(1, 5, 257))).all()


def test_gradients_reach_centres_and_widths():
    model = build_model("degram-resnet18", 4)
    loss = model(torch.randn(2, 16000)).logsumexp(dim=1).sum()
    loss.backward()
    sincgram = model.frontend.sincgram
    for parameter in (sincgram.centre_logit, sincgram.width_raw):
        assert parameter.grad is not None
        assert parameter.grad.abs().sum() > 0


@pytest.mark.parametrize("frames", [1, 2, 7, 100, 731])
@pytest.mark.parametrize("aggregation", ["max", "mean"])
def test_tf_delayer_keeps_shape_for_any_length(frames, aggregation):
    layer = TFDELayer(64, FrontendConfig(aggregation=aggregation))
    s = torch.randn(2, frames, 64)
    assert layer(s).shape == (2, frames, 64)
    freq, time = layer.attention(s)
    assert freq.shape == (2, 64) and time.shape == (2, frames)
    assert ((freq > 0) & (freq < 1)).all() and ((time > 0) & (time < 1)).all()


def test_tf_delayer_frequency_bottleneck_uses_the_reduction():
    layer = TFDELayer(64, FrontendConfig(reduction=0.0625))
    assert layer.freq_mlp[0].out_features == 4


def test_tf_delayer_aggregates_the_two_attended_maps():
    layer = TFDELayer(8, FrontendConfig(aggregation="max"))
    s = torch.rand(1, 5, 8) + 0.1
    freq, time = layer.attention(s)
    expected = torch.maximum(s * freq[:, None, :], s * time[:, :, None])
    assert torch.allclose(layer(s), expected)


def nearest_odd_rounding_up(x: float) -> int:
    candidates = range(1, 64, 2)
    return min(candidates, key=lambda k: (abs(k - x), -k))


@pytest.mark.parametrize("channels,expected", [(64, 3), (128, 5), (256, 5), (512, 5), (1024, 5), (2048, 7)])
def test_eca_kernel_follows_eq6(channels, expected):
    assert eca_kernel_size(channels) == expected
    assert expected == nearest_odd_rounding_up((math.log2(channels) + 1) / 2)


def test_degramnet_blocks_carry_eca_with_eq6_kernels():
    model = build_model("degramnet", 2)
    ecas = [m for m in model.modules() if isinstance(m, ECA)]
    assert len(ecas) == 3 + 8 + 36 + 3  # one per bottleneck block of Table 1
    blocks = [m for m in model.modules() if isinstance(getattr(m, "eca", None), ECA)]
    assert len(blocks) == len(ecas)
    for block in blocks:
        channels = block.body[-1][0].out_channels  # what the attention sees
        expected = nearest_odd_rounding_up((math.log2(channels) + 1) / 2)
        assert block.eca.conv.weight.shape == (1, 1, expected), channels
        # and the kernel really slides over the channels, keeping their number
        x = torch.randn(2, channels, 3, 3)
        assert block.eca(x).shape == x.shape
    stage_outputs = [stage[-1].body[-1][0].out_channels for stage in model.backbone.stages]
    assert stage_outputs == [256, 512, 1024, 1024]
