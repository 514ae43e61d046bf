"""Speaker gallery (degram_core.galleries) and `degram enroll`: maths on hand-made vectors,
persistence, refusals, and the command on synthetic audio with a trained model."""
import json

import numpy as np
import pytest
import soundfile

from degram_core.cli import main
from degram_core.galleries.gallery import UNKNOWN, Gallery, GalleryError, checkpoint_identity
from synthetic import make_clip


def unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


@pytest.fixture
def gallery(tmp_path):
    return Gallery(tmp_path / "speakers.json", model="m1")


def test_centroid_is_the_renormalised_mean_of_unit_embeddings(gallery):
    # Clips of different loudness (norm) must weigh the same: [10, 0] and [0, 1] -> 45 degrees.
    assert gallery.enroll("ann", [[10.0, 0.0], [0.0, 1.0]]) == 2
    np.testing.assert_allclose(gallery.entries["ann"].centroid, unit([1, 1]))
    # A later clip updates the running mean exactly, as if all three came at once.
    assert gallery.enroll("ann", [0.0, 3.0]) == 3
    np.testing.assert_allclose(gallery.entries["ann"].centroid, unit([1, 2]))
    who = gallery.identify([1.0, 2.0], threshold=0.5)
    assert who.name == "ann" and who.score == pytest.approx(1.0)


def test_identify_ranks_by_cosine_and_rejects_below_threshold(gallery):
    gallery.enroll("ann", [[1.0, 0.0, 0.0]])
    gallery.enroll("bob", [[0.0, 1.0, 0.0]])
    who = gallery.identify([2.0, 1.0, 0.0], threshold=0.8)
    assert who.name == "ann" and who.score == pytest.approx(2 / np.sqrt(5))
    assert [n for n, _ in who.candidates] == ["ann", "bob"]
    assert who.candidates[1][1] == pytest.approx(1 / np.sqrt(5))
    # cos = 0.894 for ann: below a stricter threshold it is nobody we know, but still ranked.
    stranger = gallery.identify([2.0, 1.0, 0.0], threshold=0.9)
    assert stranger.name == UNKNOWN and not stranger.known
    assert stranger.candidates[0][0] == "ann"
    assert gallery.identify([0.0, 0.0, 1.0], threshold=0.1).name == UNKNOWN


def test_empty_gallery_identifies_nobody(gallery):
    who = gallery.identify([1.0, 2.0], threshold=-1.0)
    assert (who.name, who.candidates) == (UNKNOWN, [])
    assert not gallery.path.exists()  # created on the first enrollment, not before


def test_gallery_survives_a_restart_and_forget_persists(tmp_path):
    path = tmp_path / "sub" / "speakers.json"
    first = Gallery(path, model="m1")
    first.enroll("ann", [[1.0, 0.0], [1.0, 1.0]])
    first.enroll("bob", [[0.0, 1.0]])
    again = Gallery(path, model="m1")
    assert again.names() == ["ann", "bob"] and again.clips("ann") == 2
    np.testing.assert_allclose(again.entries["ann"].centroid, first.entries["ann"].centroid)
    again.enroll("ann", [[0.0, 1.0]])  # the running mean continues across restarts
    np.testing.assert_allclose(again.entries["ann"].centroid,
                               unit(unit([1, 0]) + unit([1, 1]) + unit([0, 1])))
    assert again.forget("bob") and not again.forget("bob")
    assert Gallery(path, model="m1").names() == ["ann"]
    assert not list(path.parent.glob(".*.tmp"))  # atomic writes leave no temporary files


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"format": "other"}',
                                     '{"format": "degram-gallery", "version": 1, "model": "m1", '
                                     '"embedding_dim": 2, "speakers": {"ann": {"mean": [1], '
                                     '"clips": 1}}}'])
def test_corrupt_gallery_is_an_error_naming_the_file_and_is_kept(tmp_path, content):
    path = tmp_path / "speakers.json"
    path.write_text(content)
    with pytest.raises(GalleryError, match=str(path)):
        Gallery(path, model="m1")
    assert path.read_text() == content  # never reset: the speakers in it may be recoverable


def test_other_model_and_wrong_dimension_are_refused(tmp_path, gallery):
    gallery.enroll("ann", [[1.0, 0.0, 0.0]])
    with pytest.raises(GalleryError, match=f"{gallery.path}.*made with model 'm1'"):
        Gallery(gallery.path, model="m2")
    with pytest.raises(GalleryError, match="3"):
        gallery.enroll("bob", [[1.0, 0.0]])
    with pytest.raises(GalleryError, match="3"):
        gallery.identify([1.0, 0.0], threshold=0.5)
    assert gallery.names() == ["ann"]
    for name in ("", "  ", UNKNOWN):
        with pytest.raises(GalleryError, match="name|reserved"):
            gallery.enroll(name, [[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="zeros"):
        gallery.enroll("bob", [[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="NaN"):
        gallery.enroll("bob", [[np.nan, 0.0, 0.0]])
    assert Gallery(gallery.path, model="m1").names() == ["ann"]


def test_checkpoint_identity_tells_weights_apart(tmp_path):
    a, b = tmp_path / "a" / "best.pt", tmp_path / "b" / "best.pt"
    for path, payload in ((a, b"one"), (b, b"two")):
        path.parent.mkdir()
        path.write_bytes(payload)
    assert checkpoint_identity(a) != checkpoint_identity(b)
    assert checkpoint_identity(a).startswith("best.pt@sha256:")


# --- the command, on audio a trained model has learned -----------------------------------

def write_clips(folder, label, seeds):
    paths = []
    for seed in seeds:
        path = folder / f"{label}_{seed}.wav"
        soundfile.write(path, make_clip(label, 1.0, seed=seed), 16000)
        paths.append(str(path))
    return paths


def test_cli_enroll_list_identify_forget(trained_checkpoint, tmp_path, capsys):
    ckpt, gallery = str(trained_checkpoint), str(tmp_path / "g.json")
    low, high = write_clips(tmp_path, "low", [1, 2, 3]), write_clips(tmp_path, "high", [4, 5, 6])
    # synthetic "voices" are tones: the voice-activity gate off, as in the node's tests
    assert main(["enroll", ckpt, gallery, "low", *low, "--min-speech-fraction", "0"]) == 0
    assert main(["enroll", ckpt, gallery, "high", *high, "--min-speech-fraction", "0"]) == 0
    capsys.readouterr()
    assert main(["enroll", ckpt, gallery, "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["speakers"]
    assert listed == [{"name": "high", "clips": 3}, {"name": "low", "clips": 3}]

    probes = write_clips(tmp_path, "low", [11]) + write_clips(tmp_path, "high", [12])
    noise = write_clips(tmp_path, "noise", [13])
    assert main(["enroll", ckpt, gallery, "--identify", *probes, *noise, "--json",
                 "--threshold", "0.5"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["speaker"] for r in results[:2]] == ["low", "high"]
    assert all(r["score"] >= 0.5 for r in results[:2])
    # The class never enrolled is nobody: its best similarity is ~0.1 with this model, enrolled
    # classes score ~0.99, so the 0.5 threshold separates them with a wide margin.
    unseen = results[2]
    assert unseen["speaker"] == UNKNOWN and unseen["score"] < min(r["score"] for r in results[:2])
    # With a threshold above every similarity, nobody is known.
    assert main(["enroll", ckpt, gallery, "--identify", probes[0], "--threshold", "1.01"]) == 0
    assert f": {UNKNOWN} " in capsys.readouterr().out

    assert main(["enroll", ckpt, gallery, "--forget", "low"]) == 0
    assert main(["enroll", ckpt, gallery, "--list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "high: 3 clip(s)"


def test_cli_errors_are_clear_and_change_nothing(trained_checkpoint, tmp_path, capsys):
    ckpt, gallery = str(trained_checkpoint), tmp_path / "g.json"
    good = write_clips(tmp_path, "low", [1])
    missing = str(tmp_path / "missing.wav")
    assert main(["enroll", ckpt, str(gallery), "low", good[0], missing,
                 "--min-speech-fraction", "0"]) == 2
    assert "missing.wav" in capsys.readouterr().err
    assert not gallery.exists()  # all clips or none
    # With the voice-activity gate on (the default), a tone holds no speech to enroll from.
    assert main(["enroll", ckpt, str(gallery), "low", good[0]]) == 2
    assert "only 0.0 s of speech" in capsys.readouterr().err
    assert not gallery.exists()
    assert main(["enroll", ckpt, str(gallery), "low"]) == 2  # a name without files
    assert main(["enroll", ckpt, str(gallery), "--forget", "nobody"]) == 2
    assert "no speaker 'nobody'" in capsys.readouterr().err
    gallery.write_text("{broken")
    assert main(["enroll", ckpt, str(gallery), "--list"]) == 2
    assert str(gallery) in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: --list and --forget exclude each other
        main(["enroll", ckpt, str(gallery), "--list", "--forget", "low"])


# --- the enrollment path's gates ---------------------------------------------------------

def test_a_loudness_gate_passes_the_windows_of_a_sound_and_counts_its_seconds():
    """The gate a taught sound enrolls by: frames within below_peak_db of the loudest count,
    never those under the floor (digital silence is no sound at all)."""
    from degram_core.galleries.enrollment import gated_starts
    from degram_core.runtime.gates import LoudnessGate

    rate = 16000
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    audio = np.concatenate([np.zeros(2 * rate), tone, np.zeros(2 * rate)]).astype(np.float32)
    starts, seconds = gated_starts(audio, rate, rate, LoudnessGate(min_fraction=0.5))
    assert abs(seconds - 1.0) < 0.05
    assert 2 * rate in starts and 0 not in starts and 4 * rate not in starts
    quiet = audio * 10 ** (-40 / 20)  # the same tone 40 dB down is still the sound, relatively...
    assert gated_starts(quiet, rate, rate, LoudnessGate(min_fraction=0.5))[0] == starts
    silence = np.zeros(3 * rate, np.float32)  # ...but silence holds none
    assert gated_starts(silence, rate, rate, LoudnessGate())[1] == 0.0
    assert gated_starts(audio, rate, rate, None) == (list(range(0, 4 * rate + 1, rate // 2)), 5.0)


def test_a_sound_gallery_keeps_its_entries_under_its_own_kind(tmp_path):
    sounds = Gallery(tmp_path / "sounds.json", model="m1", kind="sounds")
    sounds.enroll("doorbell", [[1.0, 0.0]])
    stored = json.loads((tmp_path / "sounds.json").read_text())
    assert list(stored["sounds"]) == ["doorbell"] and "speakers" not in stored
    assert Gallery(tmp_path / "sounds.json", model="m1", kind="sounds").names() == ["doorbell"]
    with pytest.raises(GalleryError, match="lacks 'speakers'"):
        Gallery(tmp_path / "sounds.json", model="m1")  # not a speaker gallery
