"""The models and the demo scene the repository ships: loadable without running code, small,
licensed, and right about the scene's ground truth (data/demo/scene.json).

The scene is made only of clips the models never trained on (ESC-10 fold 5, FSDD takes 0-4),
so these tests catch a regression in the front end, the checkpoint format or the models."""
import json
from pathlib import Path

import pytest
import torch

from degram_core import Classifier, load_audio, load_checkpoint

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
    assert params < 2_000_000
    assert MODELS[name].stat().st_size < 5_000_000
    assert data["meta"]["license"].startswith("CC BY")
    assert data["meta"]["attribution"] and data["meta"]["made_with"].startswith("degram train")
    assert data["model"].startswith("degram-")


def test_sound_model_knows_the_esc10_classes(classifiers):
    assert classifiers["sound_events"].labels == sorted(
        ["chainsaw", "clock_tick", "crackling_fire", "crying_baby", "dog", "helicopter", "rain",
         "rooster", "sea_waves", "sneezing"])


def test_shipped_models_name_every_segment_of_the_demo_scene(classifiers, scene):
    info, wave = scene
    rate = info["sample_rate"]
    assert len(info["segments"]) >= 4
    kinds = {"event": "sound_events", "speech": "speaker_id"}
    for segment in info["segments"]:
        part = wave[round(segment["start_s"] * rate):round(segment["end_s"] * rate)]
        prediction = classifiers[kinds[segment["kind"]]].predict(part, rate, top_k=3)
        assert prediction.label == segment["label"], (segment, prediction.top)
