"""The `degram` command as a user runs it (a real subprocess)."""
import json
import subprocess
import sys

import pytest
import soundfile

from degram_core.cli import build_parser
from synthetic import make_clip


def degram(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "degram_core.cli", *map(str, args)],
                            capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_every_subcommand_has_help():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"predict", "info", "bench"} <= set(commands)
    for name in commands:
        assert "usage: degram " + name in degram(name, "--help").stdout


def test_predict_json_and_text(trained_checkpoint, tmp_path):
    files = []
    for label, rate in [("low", 8000), ("high", 44100), ("noise", 16000)]:
        path = tmp_path / f"{label}.wav"
        soundfile.write(path, make_clip(label, 1.5, rate=rate, seed=5), rate)
        files.append(path)
    out = json.loads(degram("predict", trained_checkpoint, *files, "--json", "-k", "2").stdout)
    assert [r["top"][0]["label"] for r in out["results"]] == ["low", "high", "noise"]
    assert all(len(r["top"]) == 2 for r in out["results"])
    text = degram("predict", trained_checkpoint, files[0]).stdout
    assert "low.wav" in text and "low" in text.split(":", 1)[1]


def test_predict_reports_a_bad_file_and_goes_on(trained_checkpoint, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    good = tmp_path / "good.wav"
    soundfile.write(good, make_clip("high", 1.0), 16000)
    result = degram("predict", trained_checkpoint, bad, good, check=False)
    assert result.returncode == 1
    assert "bad.wav: error" in result.stdout and "good.wav (1.00 s): high" in result.stdout


def test_info(trained_checkpoint):
    out = json.loads(degram("info", trained_checkpoint, "--json").stdout)
    assert out["model"] == "degram-resnet-tiny" and out["labels"] == ["low", "high", "noise"]
    assert out["parameters"] < 2_000_000 and out["meta"]["steps"] == 60


@pytest.mark.parametrize("command", ["predict", "info"])
def test_missing_checkpoint_is_one_clear_line(command, tmp_path):
    args = [command, tmp_path / "nope.pt"] + ([tmp_path / "x.wav"] if command == "predict" else [])
    result = degram(*args, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"degram {command}: error: {tmp_path / 'nope.pt'}: no such checkpoint file"]


def test_bench_prints_the_latency_table():
    out = degram("bench", "--repeats", "1", "--durations", "1", "--threads", "1",
                 "--models", "spectrogram-resnet-tiny", "degram-resnet-tiny").stdout
    assert "| spectrogram-resnet-tiny | 1 |" in out and "| degram-resnet-tiny | 1 |" in out
    gflops = {line.split("|")[1].strip(): float(line.split("|")[-2])
              for line in out.splitlines() if line.startswith("| ") and "-tiny" in line}
    # the 257 -> 64 reduction happens before the first convolution: about 4x fewer FLOPs
    assert gflops["degram-resnet-tiny"] < 0.35 * gflops["spectrogram-resnet-tiny"]
