"""Training: the loss falls, a crashed run resumes to the same weights, DDP keeps ranks
identical, a corrupt clip is skipped. Tiny model, synthetic audio written to real files."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
import torch
import yaml

from degram_core.data import Item, write_manifest
from degram_core.train import TrainConfig, train
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


def test_resume_after_a_crash_gives_the_same_weights(manifest, tmp_path):
    whole = train(config(manifest, tmp_path / "whole"), progress=False)

    def crash_after_first_epoch(epoch):
        if epoch == 1:
            raise Crash
    with pytest.raises(Crash):
        train(config(manifest, tmp_path / "crashed"), progress=False,
              on_epoch_end=crash_after_first_epoch)
    assert len(read_log(tmp_path / "crashed")) == 1
    resumed = train(config(manifest, tmp_path / "crashed"), resume=True, progress=False)
    assert resumed["epochs"] == 3 and len(read_log(tmp_path / "crashed")) == 3
    a, b = whole["model"].state_dict(), resumed["model"].state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # and the run really did move the weights between epoch 1 and 3
    first = torch.load(tmp_path / "crashed" / "best.pt", weights_only=True)["meta"]["epoch"]
    assert first >= 1


def test_corrupt_clip_in_manifest_is_reported_and_skipped(manifest, tmp_path):
    from degram_core.data import read_manifest
    items = read_manifest(manifest)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt garbage")
    items.append(Item(str(corrupt), LABELS[0], split="train"))
    path = tmp_path / "with_corrupt.csv"
    write_manifest(path, items)
    summary = train(config(path, tmp_path / "out", epochs=2), progress=False)
    assert summary["epochs"] == 2
    assert list(summary["skipped"]) == [str(corrupt)]


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
    initial = torch.load(out / "last.pt", weights_only=True)
    for key, value in ranks[0].items():
        assert torch.equal(value, ranks[1][key]), key
    moved = [k for k, v in ranks[0].items() if v.is_floating_point() and
             not torch.equal(v, torch.zeros_like(v))]
    assert moved and len(read_log(out)) == 2  # rank 0 alone logged both epochs
    assert initial["state_dict"].keys() == ranks[0].keys()
