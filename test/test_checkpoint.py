"""Checkpoints: bit-exact round trip, no code execution, errors that name the file."""
import os

import pytest
import torch

from degram_core import CheckpointError, build_model, load_checkpoint, load_model, save_checkpoint


def test_round_trip_is_bit_exact(tmp_path):
    torch.manual_seed(3)
    model = build_model("degram-resnet18", 3, n_filters=48, time_kernel=7).eval()
    with torch.no_grad():  # learned-looking values, not the initial ones
        model.frontend.sincgram.centre_logit.add_(0.123)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, ["a", "b", "c"], meta={"epoch": 4, "val_accuracy": 0.5})
    loaded = load_model(path)
    assert loaded.name == "degram-resnet18" and loaded.labels == ["a", "b", "c"]
    assert loaded.meta == {"epoch": 4, "val_accuracy": 0.5}
    assert not loaded.training
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for key in original:
        assert torch.equal(original[key], restored[key]), key
    wave = torch.randn(2, 12345)
    with torch.inference_mode():
        assert torch.equal(model(wave), loaded(wave))
    data = load_checkpoint(path)
    assert data["sample_rate"] == 16000 and data["config"]["n_filters"] == 48


def test_a_model_carries_its_labels_and_meta_into_the_file(tmp_path):
    model = build_model("degram-resnet-tiny", 2, labels=["yes", "no"], meta={"val_eer": 0.1})
    assert build_model("degram-resnet-tiny", 2).labels == ["0", "1"]
    save_checkpoint(tmp_path / "m.pt", model)  # no labels or meta given: the model's own
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.labels == ["yes", "no"] and loaded.meta == {"val_eer": 0.1}
    with pytest.raises(ValueError, match="3 labels"):
        build_model("degram-resnet-tiny", 2, labels=["a", "b", "c"])


def test_checkpoints_from_before_the_tf_delayer_rename_still_load(tmp_path):
    torch.manual_seed(1)
    model = build_model("degram-resnet-tiny", 2).eval()
    path = tmp_path / "old.pt"
    save_checkpoint(path, model, ["x", "y"])
    data = torch.load(path, weights_only=True)
    data["state_dict"] = {k.replace("frontend.tf_delayer.", "frontend.delayer."): v
                          for k, v in data["state_dict"].items()}
    assert any(".delayer." in k for k in data["state_dict"])
    torch.save(data, path)
    loaded = load_model(path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


class RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickled_code_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = RunsCode()
    payload.marker = marker
    path = tmp_path / "evil.pt"
    torch.save({"format": "degram-checkpoint", "state_dict": payload}, path)
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    assert str(path) in str(error.value) and "could run code" in str(error.value)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # proof the payload is live: a naive load runs it
    assert marker.exists()


def test_missing_corrupt_and_foreign_files_name_the_file(tmp_path):
    missing = tmp_path / "absent.pt"
    with pytest.raises(CheckpointError, match="absent.pt: no such checkpoint file"):
        load_model(missing)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a checkpoint at all" * 10)
    with pytest.raises(CheckpointError, match="corrupt.pt: not a readable checkpoint"):
        load_model(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="foreign.pt: not a degram checkpoint"):
        load_model(foreign)


def test_truncated_file_is_reported(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, build_model("degram-resnet-tiny", 2), ["x", "y"])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="m.pt"):
        load_model(path)


def test_labels_must_match_classes(tmp_path):
    with pytest.raises(ValueError, match="2 labels"):
        save_checkpoint(tmp_path / "m.pt", build_model("degram-resnet-tiny", 3), ["x", "y"])
    assert not (tmp_path / "m.pt").exists()


def flip_bytes_in_weights(path, count=64):
    """Damage a checkpoint as a bad copy would: flip bytes inside one tensor's stored data."""
    import zipfile
    with zipfile.ZipFile(path) as archive:
        member = max(archive.infolist(), key=lambda info: info.file_size)  # the largest tensor
        assert "/data/" in member.filename
    with open(path, "rb") as f:  # a stored (uncompressed) member: header, name, extra, data
        f.seek(member.header_offset + 26)
        name_len, extra_len = (int.from_bytes(f.read(2), "little") for _ in range(2))
    start = member.header_offset + 30 + name_len + extra_len + member.file_size // 2
    data = bytearray(path.read_bytes())
    data[start:start + count] = bytes(b ^ 0x5A for b in data[start:start + count])
    path.write_bytes(bytes(data))
    return member.filename


def test_flipped_bytes_in_the_weights_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, build_model("degram-resnet-tiny", 2), ["x", "y"])
    member = flip_bytes_in_weights(path)
    # torch.load itself takes the damaged file: the check is ours
    assert torch.load(path, weights_only=True)["format"] == "degram-checkpoint"
    with pytest.raises(CheckpointError) as error:
        load_model(path)
    message = str(error.value)
    assert message.startswith(f"{path}: corrupt") and member in message and "CRC" in message
