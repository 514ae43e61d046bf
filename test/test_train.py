"""Training: the loss falls, a crashed run resumes to the same weights, DDP keeps ranks
identical, a corrupt clip is skipped. Tiny model, synthetic audio written to real files."""
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml

from degram_core.data import Item, write_manifest
from degram_core.training import TrainConfig, train
from synthetic import LABELS, make_clip


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("audio")
    items = []
    for n in range(10):
        for label in LABELS:
            path = root / f"{label}_{n}.wav"
            soundfile.write(path, make_clip(label, 0.8, seed=100 + n), 16000)
            items.append(Item(str(path), label, split="val" if n >= 8 else "train"))
    path = root / "manifest.csv"
    write_manifest(path, items)
    return path


def config(manifest, out, **changes) -> TrainConfig:
    base = dict(model="degram-resnet-tiny", train_manifest=str(manifest), out_dir=str(out),
                epochs=3, batch_size=8, lr=3e-3, min_seconds=0.5, max_seconds=1.0,
                tensorboard=False, threads=1, seed=7)
    base.update(changes)
    return TrainConfig(**base)


def read_log(out):
    with open(Path(out) / "log.csv") as f:
        return list(csv.DictReader(f))


def test_a_few_epochs_lower_the_loss_and_write_checkpoints(manifest, tmp_path):
    summary = train(config(manifest, tmp_path, epochs=4), progress=False)
    rows = read_log(tmp_path)
    assert len(rows) == 4 == summary["epochs"]
    assert float(rows[-1]["train_loss"]) < 0.7 * float(rows[0]["train_loss"])
    assert (tmp_path / "best.pt").exists() and (tmp_path / "last.pt").exists()
    from degram_core import load_model
    assert load_model(tmp_path / "best.pt").labels == sorted(LABELS)


class Crash(Exception):
    pass


@pytest.mark.parametrize("resumed_with", [{}, {"balanced": False, "num_workers": 2},
                                          {"mixup_alpha": 0.4}],
                         ids=["same-process", "shuffled-with-workers", "mixup"])
def test_resume_after_a_crash_gives_the_same_weights(manifest, tmp_path, resumed_with):
    """The crashed and resumed run may use worker processes: batches depend on (seed, batch
    number) only, so they must still end on the single-process run's weights."""
    plain = {k: v for k, v in resumed_with.items() if k != "num_workers"}
    whole = train(config(manifest, tmp_path / "whole", **plain), progress=False)

    after_first = {}

    def crash_after_first_epoch(epoch):
        if epoch == 1:
            after_first.update(torch.load(tmp_path / "crashed" / "last.pt",
                                          weights_only=True)["state_dict"])
            raise Crash
    with pytest.raises(Crash):
        train(config(manifest, tmp_path / "crashed", **resumed_with), progress=False,
              on_epoch_end=crash_after_first_epoch)
    assert len(read_log(tmp_path / "crashed")) == 1
    resumed = train(config(manifest, tmp_path / "crashed", **resumed_with), resume=True,
                    progress=False)
    assert resumed["epochs"] == 3 and len(read_log(tmp_path / "crashed")) == 3
    a, b = whole["model"].state_dict(), resumed["model"].state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # and the resumed epochs really did train: equal weights would also come from a resume
    # that restored epoch 1 and then skipped the rest
    assert moved(after_first, b) >= trainable(resumed["model"])


def trainable(model) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def moved(before: dict, after: dict) -> set[str]:
    """Names of the floating tensors that differ between two state dicts."""
    return {k for k, v in before.items() if v.is_floating_point() and not torch.equal(v, after[k])}


@pytest.mark.parametrize("workers", [0, 1])
def test_corrupt_clip_in_manifest_is_reported_and_skipped(manifest, tmp_path, workers):
    from degram_core.data import read_manifest
    items = read_manifest(manifest)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt garbage")
    items.append(Item(str(corrupt), LABELS[0], split="train"))
    path = tmp_path / "with_corrupt.csv"
    write_manifest(path, items)
    summary = train(config(path, tmp_path / "out", epochs=2, num_workers=workers), progress=False)
    assert summary["epochs"] == 2
    assert list(summary["skipped"]) == [str(corrupt)]


def test_an_8khz_model_learns_from_8khz_batches(manifest, tmp_path):
    import pickle

    from degram_core.data import read_manifest
    from degram_core.data.dataset import AudioDataset
    from degram_core.training.batches import training_data

    cfg = config(manifest, tmp_path, epochs=1, min_seconds=0.5, max_seconds=0.5,
                 model_options={"sample_rate": 8000}, num_workers=1, noise_prob=0.5)
    summary = train(cfg, progress=False)
    assert summary["model"].sample_rate == 8000 == summary["sample_rate"]
    # what train() builds from it: clips decoded and cropped at 8 kHz, in a worker process
    loader, _, collate = training_data(cfg, AudioDataset(read_manifest(manifest), sample_rate=8000))
    pickle.loads(pickle.dumps(collate))  # a spawned worker gets a pickled copy
    waves, targets = next(iter(loader))
    assert waves.shape == (8, 4000) and len(targets) == 8


def test_cli_train_then_evaluate(manifest, tmp_path):
    cfg_path = tmp_path / "train.yaml"
    cfg = {k: v for k, v in vars(config(manifest, tmp_path / "cli")).items()}
    cfg_path.write_text(yaml.safe_dump(cfg))
    run = subprocess.run([sys.executable, "-m", "degram_core.cli", "train", str(cfg_path),
                          "--quiet", "--set", "epochs=2"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "done after 2 epochs" in run.stdout
    run = subprocess.run([sys.executable, "-m", "degram_core.cli", "evaluate",
                          str(tmp_path / "cli" / "best.pt"), str(manifest), "--split", "val",
                          "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    import json
    result = json.loads(run.stdout)
    assert result["clips"] == 6 and 0 <= result["top1"] <= 1 and len(result["confusion"]) == 3


def test_ddp_two_gloo_processes_end_identical(manifest, tmp_path):
    out = tmp_path / "ddp"
    cfg_path = tmp_path / "ddp.yaml"
    cfg_path.write_text(yaml.safe_dump(vars(config(manifest, out, epochs=2))))
    worker = Path(__file__).with_name("ddp_worker.py")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", str(worker), str(cfg_path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for key, value in ranks[0].items():
        assert torch.equal(value, ranks[1][key]), key
    # Zero epochs return the model exactly as the workers built it (same seed): every
    # parameter must have left those initial weights on both ranks.
    untrained = train(config(manifest, tmp_path / "initial", epochs=0), progress=False)["model"]
    initial = untrained.state_dict()
    assert initial.keys() == ranks[0].keys()
    assert moved(initial, ranks[0]) >= trainable(untrained)
    assert len(read_log(out)) == 2  # rank 0 alone logged both epochs
    last = torch.load(out / "last.pt", weights_only=True)["state_dict"]
    for key, value in ranks[0].items():
        assert torch.equal(value, last[key]), key


# --- validation that never touches the test data, speaker embeddings, augmentation ---------

@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> Path:
    """Eight synthetic "speakers" (a tone each, with harmonics), six clips each, all in the
    training split."""
    import numpy as np

    root = tmp_path_factory.mktemp("voices")
    items = []
    for s in range(8):
        for n in range(6):
            rng = np.random.default_rng(1000 * s + n)
            t = np.arange(12000) / 16000
            f0 = 150 + 90 * s
            wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 4))
            wave = (0.2 * wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
            path = root / f"s{s}_{n}.wav"
            soundfile.write(path, wave, 16000)
            items.append(Item(str(path), f"s{s}", split="train", speaker=f"s{s}"))
    path = root / "manifest.csv"
    write_manifest(path, items)
    return path


def test_each_speed_of_a_training_speaker_is_a_speaker_of_its_own(voices, tmp_path):
    summary = train(config(voices, tmp_path, epochs=1, val_speakers=3, val_metric="eer",
                           train_split="train", val_seconds=0.5, speed_speakers=[0.9, 1.1],
                           model_options={"embedding_dim": 16, "head": "aam"}), progress=False)
    base = summary["labels"][:5]  # the 5 voices left after 3 validate
    assert base == sorted(base) and not any("@" in b for b in base)
    assert summary["labels"] == base + [f"{v}@0.9x" for v in base] + [f"{v}@1.1x" for v in base]
    assert summary["model"].fc.weight.shape[0] == 15
    with pytest.raises(ValueError, match="speed_speakers"):
        train(config(voices, tmp_path, epochs=1, val_speakers=3, train_split="train",
                     speed_speakers=[1.1]), progress=False)


def test_validation_speakers_come_out_of_the_training_split(voices, tmp_path):
    from degram_core.training import split_items

    train_items, val_items = split_items(config(voices, tmp_path, val_speakers=3,
                                                train_split="train"))
    train_speakers = {i.speaker for i in train_items}
    val_speakers = {i.speaker for i in val_items}
    assert len(val_speakers) == 3 and len(train_speakers) == 5
    assert not train_speakers & val_speakers
    assert len(train_items) + len(val_items) == 48


def test_an_extra_corpus_trains_only_and_leaves_the_validation_speakers_as_they_were(
        voices, tmp_path):
    from degram_core.data import read_manifest
    from degram_core.training import split_items

    extra = [Item(i.path, "x" + i.label, split=split, speaker="x" + i.speaker)
             for i in read_manifest(voices) for split in ("train", "test")]
    extra_path = tmp_path / "extra.csv"
    write_manifest(extra_path, extra)
    plain = split_items(config(voices, tmp_path, val_speakers=3, train_split="train"))
    train_items, val_items = split_items(config(
        voices, tmp_path, val_speakers=3, train_split="train",
        extra_train_manifest=str(extra_path), extra_per_label=2))
    assert [i.path for i in val_items] == [i.path for i in plain[1]]
    added = train_items[len(plain[0]):]
    assert [i.path for i in train_items[:len(plain[0])]] == [i.path for i in plain[0]]
    assert len(added) == 2 * 8 and all(i.label.startswith("x") for i in added)
    assert all(i.split == "train" for i in added)  # its test rows stay out


def test_a_validation_fraction_is_stratified_and_leaves_the_test_split_alone(manifest, tmp_path):
    from collections import Counter

    from degram_core.training import split_items

    train_items, val_items = split_items(config(manifest, tmp_path, val_fraction=0.25,
                                                train_split="train"))
    assert all(i.split == "train" for i in train_items + val_items)  # no "val" rows used
    assert Counter(i.label for i in val_items) == {label: 2 for label in LABELS}
    assert not {i.path for i in train_items} & {i.path for i in val_items}


def test_folds_held_out_of_both_never_reach_training(manifest, tmp_path):
    from degram_core.data import read_manifest
    from degram_core.training import split_items

    items = read_manifest(manifest)
    for n, item in enumerate(items):
        item.fold = str(n % 3 + 1)
    folded = tmp_path / "folded.csv"
    write_manifest(folded, items)
    train_items, val_items = split_items(config(folded, tmp_path, val_fold=2, exclude_folds=[3]))
    assert {i.fold for i in train_items} == {"1"} and {i.fold for i in val_items} == {"2"}


def test_a_refit_trains_on_the_validation_folds_refit_labels_and_keeps_the_last_epoch(
        manifest, tmp_path):
    from degram_core import load_checkpoint
    from degram_core.data import read_manifest
    from degram_core.training import split_items

    items = read_manifest(manifest)
    for n, item in enumerate(items):
        item.fold = str(n // len(LABELS) % 3 + 1)  # each fold holds every label
    folded = tmp_path / "folded.csv"
    write_manifest(folded, items)
    refit, kept = LABELS[:2], set(LABELS[2:])
    cfg = config(folded, tmp_path, val_fold=2, exclude_folds=[3], refit_labels=refit, epochs=3)
    train_items, val_items = split_items(cfg)
    assert {(i.fold, i.label) for i in train_items} == (
        {("1", label) for label in LABELS} | {("2", label) for label in refit})
    assert {i.fold for i in val_items} == {"2"} and {i.label for i in val_items} == kept
    train(cfg, progress=False)
    assert load_checkpoint(tmp_path / "best.pt")["meta"]["epoch"] == 3


def test_a_speaker_embedding_trains_with_aam_and_stores_its_threshold(voices, tmp_path):
    from degram_core import load_checkpoint

    summary = train(config(voices, tmp_path, epochs=2, val_speakers=3, val_metric="eer",
                           train_split="train", val_seconds=0.5,
                           model_options={"embedding_dim": 16, "head": "aam"}),
                    progress=False)
    meta = load_checkpoint(summary["best"])["meta"]
    assert meta["speaker_embedding"] is True
    assert 0.0 <= meta["val_eer"] <= 1.0 and -1.0 <= meta["similarity_threshold"] <= 1.0
    assert "tnorm_scale" not in meta  # plain cosine unless the recipe asks for T-norm
    rows = read_log(tmp_path)
    # the epoch is chosen by the validation speakers' EER
    assert summary["best_val_eer"] == pytest.approx(min(float(r["val_eer"]) for r in rows))
    assert meta["best_val_eer"] <= meta["val_eer"] and "val_accuracy" not in meta
    assert "val_acc" not in rows[0]  # reported as what it is: an EER
    assert "val_eer" in rows[0] and len(summary["labels"]) == 5  # the 3 validation voices are not labels
    # the node's threshold is the open-set one, with a gallery of 2 of the 3 validation voices
    assert meta["similarity_gallery"] == 2 and "val_eer_threshold" in meta

    # `degram calibrate --speakers RECIPE` chooses it again, on the same validation voices
    from degram_core.runtime.checkpoint import atomic_save
    from degram_core.cli import main

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"train_manifest": str(voices), "train_split": "train",
                                      "val_speakers": 3, "val_metric": "eer", "seed": 7}))
    data = load_checkpoint(summary["best"])
    data["meta"]["similarity_threshold"] = 1000.0  # a value no calibration gives
    atomic_save(data, summary["best"])
    assert main(["calibrate", summary["best"], "--speakers", str(recipe), "--window-s", "0.5"]) == 0
    again = load_checkpoint(summary["best"])["meta"]
    # the training's seed: the same validation voices and draws, so the same threshold
    assert again["similarity_threshold"] == pytest.approx(meta["similarity_threshold"], rel=1e-4)
    assert again["tnorm_scale"] == 0.0
    # --tnorm: the threshold in T-normalised units, and the scale the nodes normalise with
    assert main(["calibrate", summary["best"], "--speakers", str(recipe), "--window-s", "0.5",
                 "--tnorm"]) == 0
    normed = load_checkpoint(summary["best"])["meta"]
    assert normed["tnorm_scale"] == 30.0 and np.isfinite(normed["similarity_threshold"])
    assert normed["similarity_threshold"] != pytest.approx(meta["similarity_threshold"], rel=1e-3)
    assert normed["calibration"]["speakers"]["tnorm_scale"] == 30.0
    assert again["calibration"]["speakers"]["recipe"] == str(recipe)


def test_init_from_starts_at_a_checkpoint_and_cosine_lowers_the_rate(manifest, tmp_path):
    from degram_core import load_checkpoint

    first = train(config(manifest, tmp_path / "a", epochs=1), progress=False)
    start = load_checkpoint(first["last"])["state_dict"]
    cfg = config(manifest, tmp_path / "b", epochs=3, init_from=first["last"], lr_schedule="cosine",
                 lr_factor=0.01, lr=1e-4)
    went_on = train(cfg, progress=False)["model"].state_dict()
    afresh = train(config(manifest, tmp_path / "c", epochs=3, lr=1e-4), progress=False)["model"]

    def distance(weights):
        return sum(float((weights[k] - start[k]).norm()) for k in start if k.endswith(".weight"))
    # Three small steps from the checkpoint stay near it; a fresh start is elsewhere.
    assert distance(went_on) < 0.2 * distance(afresh.state_dict())
    rates = [float(r["lr"]) for r in read_log(tmp_path / "b")]
    assert rates[0] < cfg.lr and rates == sorted(rates, reverse=True)
    assert rates[-1] == pytest.approx(cfg.lr * 0.01)
    with pytest.raises(ValueError, match="lr_schedule"):
        train(config(manifest, tmp_path / "d", lr_schedule="step"), progress=False)


def test_training_mixes_in_background_rooms_and_gain(manifest, tmp_path):
    import numpy as np

    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    soundfile.write(noise_dir / "hum.wav", 0.1 * np.random.default_rng(0).standard_normal(16000),
                    16000)
    summary = train(config(manifest, tmp_path / "run", epochs=1, noise_dir=str(noise_dir),
                           noise_prob=1.0, noise_snr_db=[0, 10], reverb_prob=1.0,
                           gain_db=[-6, 0]), progress=False)
    assert summary["epochs"] == 1


def test_resume_mid_epoch_from_a_step_checkpoint_gives_the_same_weights(manifest, tmp_path):
    # 24 training clips in batches of 8: three steps an epoch; last.pt every two steps
    whole = train(config(manifest, tmp_path / "whole"), progress=False)

    def crash_in_epoch_two(epoch, step):
        if (epoch, step) == (2, 3):  # after the step-2 checkpoint, before the epoch's end
            raise Crash
    crashed = tmp_path / "crashed"
    with pytest.raises(Crash):
        train(config(manifest, crashed, checkpoint_every=2), progress=False,
              on_step_end=crash_in_epoch_two)
    training = torch.load(crashed / "last.pt", weights_only=True)["meta"]["training"]
    assert (training["epoch"], training["step"]) == (1, 2)  # one epoch done, two steps into the next
    steps = []
    resumed = train(config(manifest, crashed, checkpoint_every=2), resume=True, progress=False,
                    on_step_end=lambda epoch, step: steps.append((epoch, step)))
    assert steps[0] == (2, 3)  # the resumed run goes on at the step it had not taken
    assert resumed["epochs"] == 3 and len(read_log(crashed)) == 3
    a, b = whole["model"].state_dict(), resumed["model"].state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    whole_log, resumed_log = read_log(tmp_path / "whole"), read_log(crashed)
    for row, again in zip(whole_log, resumed_log):  # the epoch's figures count every step once
        assert row["train_loss"] == again["train_loss"] and row["val_acc"] == again["val_acc"]


def test_resume_without_a_checkpoint_is_refused(manifest, tmp_path):
    with pytest.raises(FileNotFoundError, match="last.pt: no checkpoint to resume from"):
        train(config(manifest, tmp_path / "fresh"), resume=True, progress=False)
    assert not (tmp_path / "fresh" / "log.csv").exists()
    cfg_path = tmp_path / "train.yaml"
    cfg_path.write_text(yaml.safe_dump(vars(config(manifest, tmp_path / "cli"))))
    run = subprocess.run([sys.executable, "-m", "degram_core.cli", "train", str(cfg_path),
                          "--quiet", "--resume"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip() == (f"degram train: error: {tmp_path / 'cli' / 'last.pt'}: no "
                                  f"checkpoint to resume from; train without --resume to start "
                                  f"afresh, or check out_dir")


def test_mixup_mixes_each_clip_with_a_partner_and_weighs_the_leader_more():
    from degram_core.data.mixing import mixup

    waves = torch.randn(6, 100)
    for seed in range(5):
        mixed, partner, share = mixup(waves, 0.4, np.random.default_rng(seed))
        assert 0.5 <= share <= 1.0
        assert sorted(partner.tolist()) == list(range(6))
        assert torch.allclose(mixed, share * waves + (1 - share) * waves[partner])
    # the same generator state gives the same mix (a resumed run draws it again)
    a, b = mixup(waves, 0.4, np.random.default_rng([0, 3, 7])), mixup(waves, 0.4,
                                                                      np.random.default_rng([0, 3, 7]))
    assert torch.equal(a[0], b[0]) and a[2] == b[2]


def test_mixup_is_refused_for_a_margin_head(manifest, tmp_path):
    with pytest.raises(ValueError, match="mixup_alpha needs the linear head"):
        train(config(manifest, tmp_path, mixup_alpha=0.4, model="degram-speaker"), progress=False)


def test_a_recipe_extends_its_base_and_the_shipped_speaker_model_rebuilds_from_its_recipe(tmp_path):
    """config/train_speakers_half_speed.yaml extends _half_fsdd.yaml, which extends _half.yaml:
    resolved, it is the recipe the shipped model was trained with (its checkpoint keeps it),
    but for the --set threads=1 num_workers=1 of that run (and fields added since, at their
    defaults)."""
    from dataclasses import asdict

    from degram_core import load_checkpoint

    root = Path(__file__).resolve().parents[1]
    recipe = TrainConfig.from_yaml(root / "config" / "train_speakers_half_speed.yaml",
                                   {"threads": 1, "num_workers": 1})
    stored = load_checkpoint(root / "models" / "speaker_id.pt")["meta"]["config"]
    resolved = asdict(recipe)
    # fields added since the model was made must be at their defaults (they change nothing)
    defaults = asdict(TrainConfig())
    assert {k: v for k, v in resolved.items() if k not in stored} == \
        {k: defaults[k] for k in resolved if k not in stored}
    assert {k: resolved[k] for k in stored} == stored
    # a field set in the recipe replaces the base's; `base` is relative to the recipe's folder
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.yaml").write_text("epochs: 5\nlr: 0.1\nnoise_snr_db: [1, 2]\n")
    (tmp_path / "sub" / "child.yaml").write_text("base: ../base.yaml\nlr: 0.2\nnoise_snr_db: [3]\n")
    child = TrainConfig.from_yaml(tmp_path / "sub" / "child.yaml", {"epochs": 7})
    assert (child.epochs, child.lr, child.noise_snr_db) == (7, 0.2, [3])
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ValueError, match="extends itself"):
        TrainConfig.from_yaml(tmp_path / "loop.yaml")
