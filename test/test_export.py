"""ONNX and TorchScript exports and the onnxruntime backend, against the PyTorch model."""
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from degram_core import CheckpointError, Classifier, load_model
from degram_core.runtime.export import ConvSTFTMagnitude, export_model, load_torchscript, parse_metadata
from degram_core.nn.frontend import STFTMagnitude
from degram_core.nn.frontend_config import FrontendConfig
from synthetic import LABELS, make_clip

SECONDS = (0.02, 0.5, 1.0, 2.7, 6.0)  # 0.02 s is shorter than one STFT window (the padded branch)


@pytest.fixture(scope="module")
def model(trained_checkpoint):
    return load_model(trained_checkpoint)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    return {fmt: export_model(model, folder / f"model.{fmt}", fmt) for fmt in ("onnx", "torchscript")}


def reference(model, wave):
    with torch.inference_mode():
        return model(wave).numpy(), model.embed(wave).numpy()  # (B, C), (B, D)


def clips(batch, seconds):
    waves = [make_clip(LABELS[i % 3], seconds, seed=i) for i in range(batch)]
    return torch.from_numpy(np.stack(waves))  # (B, N)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exports_match_pytorch_at_any_length_and_batch(model, exported, fmt, batch):
    if fmt == "onnx":
        session = onnxruntime.InferenceSession(str(exported["onnx"]),
                                               providers=["CPUExecutionProvider"])
        run = lambda wave: session.run(["logits", "embedding"], {"waveform": wave.numpy()})  # noqa: E731
    else:
        module, _ = load_torchscript(exported["torchscript"])
        run = lambda wave: [t.numpy() for t in module(wave)]  # noqa: E731
    for seconds in SECONDS:
        wave = clips(batch, seconds)
        logits, embedding = run(wave)
        want_logits, want_embedding = reference(model, wave)
        assert logits.shape == (batch, len(LABELS)) and embedding.shape == want_embedding.shape
        np.testing.assert_allclose(logits, want_logits, atol=1e-4, rtol=0, err_msg=f"{seconds} s")
        np.testing.assert_allclose(embedding, want_embedding, atol=1e-4, rtol=0,
                                   err_msg=f"{seconds} s")


@pytest.mark.parametrize("win_length", [512, 400])
def test_conv_stft_gives_the_front_ends_frames(win_length):
    stft = STFTMagnitude(FrontendConfig(win_length=win_length))
    conv = ConvSTFTMagnitude(stft)
    for n in (512, 999, 16000):
        wave = torch.randn(2, n, generator=torch.Generator().manual_seed(n))
        want, got = stft(wave), conv(wave)
        assert got.shape == want.shape
        assert float((got - want).abs().max()) < 1e-5 * float(want.abs().max())


def test_onnx_graph_has_only_operators_accelerators_run(exported):
    # TensorRT parses no STFT and no complex tensors: the exported front end is convolutions
    ops = {node.op_type for node in onnx.load(str(exported["onnx"])).graph.node}
    assert "STFT" not in ops and "DFT" not in ops and "Conv" in ops


def test_exports_describe_themselves(exported):
    proto = onnx.load(str(exported["onnx"]))
    meta = parse_metadata({p.key: p.value for p in proto.metadata_props})
    assert meta["labels"] == LABELS and meta["sample_rate"] == 16000
    assert meta["model"] == "degram-resnet-tiny" and meta["degram_version"]
    axes = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert proto.graph.input[0].name == "waveform" and axes == ["batch", "samples"]
    assert [o.name for o in proto.graph.output] == ["logits", "embedding"]
    _, ts_meta = load_torchscript(exported["torchscript"])
    assert ts_meta == meta


@pytest.fixture(scope="module")
def classifiers(trained_checkpoint, exported):
    return {"torch": Classifier(trained_checkpoint),
            "onnxruntime": Classifier(trained_checkpoint, backend="onnxruntime"),
            "onnx file": Classifier(exported["onnx"], backend="onnxruntime")}


@pytest.mark.parametrize("kind", ["onnxruntime", "onnx file"])
def test_onnxruntime_classifier_agrees_with_torch(classifiers, kind):
    torch_c, ort_c = classifiers["torch"], classifiers[kind]
    assert ort_c.labels == LABELS and ort_c.sample_rate == 16000 and ort_c.backend == "onnxruntime"
    assert ort_c.model.name == "degram-resnet-tiny"
    for i, label in enumerate(LABELS):
        clip = make_clip(label, 2.0, rate=44100, seed=40 + i)  # resampled to 16 kHz by both
        want, got = torch_c.predict(clip, 44100), ort_c.predict(clip, 44100)
        assert got.label == want.label == label
        np.testing.assert_allclose(got.probs, want.probs, atol=1e-4, rtol=0)
        np.testing.assert_allclose(ort_c.embed(clip, 44100), torch_c.embed(clip, 44100),
                                   atol=1e-4, rtol=0)
    scene = np.concatenate([make_clip(label, 1.5, seed=50 + i) for i, label in enumerate(LABELS)])
    want = torch_c.predict_windows(scene, 16000, 1.0, 0.25)
    got = ort_c.predict_windows(scene, 16000, 1.0, 0.25)
    stream = ort_c.stream(1.0, 0.25)
    streamed = [r for start in range(0, len(scene), 1234)
                for r in stream.feed(scene[start:start + 1234], 16000)]
    assert len(got) == len(want) == len(streamed) == 15
    for a, b, c in zip(got, want, streamed):
        assert (a.start_s, a.prediction.label) == (b.start_s, b.prediction.label) == \
            (c.start_s, c.prediction.label)
        np.testing.assert_allclose(a.prediction.probs, b.prediction.probs, atol=1e-4, rtol=0)


def test_unknown_backend_names_the_choices(trained_checkpoint):
    with pytest.raises(ValueError, match="'tensorflow'.*torch.*onnxruntime"):
        Classifier(trained_checkpoint, backend="tensorflow")


def test_corrupt_onnx_file_is_a_checkpoint_error_naming_it(tmp_path, exported):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(exported["onnx"].read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="broken.onnx"):
        Classifier(bad, backend="onnxruntime")
    with pytest.raises(CheckpointError, match="nothere.onnx"):
        Classifier(tmp_path / "nothere.onnx", backend="onnxruntime")
    with pytest.raises(CheckpointError, match="model.onnx.*'onnxruntime'"):
        Classifier(exported["onnx"], backend="torch")


def degram(*args):
    return subprocess.run([sys.executable, "-m", "degram_core.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_cli_export_writes_a_working_file(trained_checkpoint, tmp_path):
    out = tmp_path / "exported.onnx"
    result = degram("export", trained_checkpoint, "--format", "onnx", "-o", out)
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout and out.stat().st_size > 100_000
    classifier = Classifier(out, backend="onnxruntime")
    assert classifier.predict(make_clip("high", 1.0, seed=3), 16000).label == "high"
    # degram info names it an ONNX model, as predict and the nodes do, with its labels
    info = degram("info", out)
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith(f"{out}: degram-resnet-tiny, an ONNX model (degram export), "
                                  f"16000 Hz") and "labels (3): low, high, noise" in info.stdout
    # a directory is said to be one, not "no such file"
    folder = degram("info", tmp_path)
    assert folder.returncode == 2
    assert folder.stderr.strip() == f"degram info: error: {tmp_path}: a directory, not a checkpoint file"


def test_cli_export_of_a_corrupt_checkpoint_fails_naming_it(tmp_path):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint" * 64)
    result = degram("export", bad, "--format", "torchscript")
    assert result.returncode == 2
    assert str(bad) in result.stderr and not (tmp_path / "corrupt.ts").exists()
