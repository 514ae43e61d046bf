"""The models and the demo scene the repository ships: loadable without running code, small,
licensed, and right about the scene's ground truth (data/demo/scene.json).

The scene is made only of clips the models never trained on (ESC-10 fold 5, FSDD takes 0-4, a
speechocean762 test-split speaker, the held-out end of a noise recording), so these tests catch
a regression in the front end, the checkpoint format or the models."""
import json
from pathlib import Path

import pytest
import torch

from degram_core import Classifier, load_audio, load_checkpoint
from degram_core.galleries.enrollment import voice_embedding
from degram_core.galleries.gallery import UNKNOWN, Gallery
from degram_core.runtime.operating_points import own
from degram_core.runtime.vad import VoiceActivity

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"sound_events": ROOT / "models" / "sound_events.pt",
          "speaker_id": ROOT / "models" / "speaker_id.pt"}
SCENE = ROOT / "data" / "demo"


@pytest.fixture(scope="module")
def classifiers():
    torch.set_num_threads(1)
    return {name: Classifier(path, device="cpu") for name, path in MODELS.items()}


@pytest.fixture(scope="module")
def scene():
    info = json.loads((SCENE / "scene.json").read_text())
    return info, load_audio(SCENE / info["file"], info["sample_rate"])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_model_is_small_code_free_and_licensed(name):
    data = load_checkpoint(MODELS[name])  # weights_only=True inside
    params = sum(t.numel() for k, t in data["state_dict"].items()
                 if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    # The speaker embedding is a half-width ResNet-18 (2.87 M), stored as float16
    # (tools/half_weights.py): every shipped file stays a few MB.
    assert params < 3_000_000
    assert MODELS[name].stat().st_size < 6_000_000
    assert data["meta"]["license"] and data["meta"]["attribution"]
    assert "degram train" in data["meta"]["made_with"]
    assert data["model"].startswith("degram-")
    # operating points chosen on validation data travel with the model (degram calibrate)
    points = {"sound_events": ["event_threshold"],
              "speaker_id": ["similarity_threshold", "vad_min_speech"]}[name]
    assert all(0 < data["meta"][p] < 1 for p in points)


def test_sound_model_knows_the_esc10_classes_speech_and_background(classifiers):
    assert classifiers["sound_events"].labels == sorted(
        ["chainsaw", "clock_tick", "crackling_fire", "crying_baby", "dog", "helicopter", "rain",
         "rooster", "sea_waves", "sneezing", "speech", "background"])


def test_speaker_model_is_an_embedding_of_strangers(classifiers):
    assert classifiers["speaker_id"].meta["speaker_embedding"] is True
    assert classifiers["speaker_id"].model.embedding_dim == 192


def test_shipped_models_name_every_segment_of_the_demo_scene(classifiers, scene, tmp_path):
    info, wave = scene
    rate = info["sample_rate"]
    assert {s["kind"] for s in info["segments"]} == {"event", "speech", "quiet"}
    speaker = classifiers["speaker_id"]
    vad = VoiceActivity()
    gallery = Gallery(tmp_path / "g.json", "shipped")
    for name, clip in info["enroll"].items():
        gallery.enroll(name, voice_embedding(speaker, vad, load_audio(SCENE / clip, rate),
                                             rate, 2.0, own("vad_min_speech", speaker))[0])
    threshold = own("similarity_threshold", speaker)
    expected = {"event": lambda s: s["label"], "speech": lambda s: "speech",
                "quiet": lambda s: "background"}
    for segment in info["segments"]:
        part = wave[round(segment["start_s"] * rate):round(segment["end_s"] * rate)]
        heard = classifiers["sound_events"].predict(part, rate, top_k=3)
        assert heard.label == expected[segment["kind"]](segment), (segment, heard.top)
        if segment["kind"] == "speech":
            who = gallery.identify(speaker.embed(part, rate), threshold)  # as the node does
            assert who.name == segment["label"], (segment, who)
    assert UNKNOWN in {s["label"] for s in info["segments"]}
