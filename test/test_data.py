"""Manifests, builders, crops and tiling, balanced epochs, noise, unreadable clips."""
import numpy as np
import pytest
import soundfile

from degram_core.data import (Item, from_esc, from_folder, from_fsdd, from_voxceleb1,
                              read_manifest, select, write_manifest)
from degram_core.data.crops import RandomLengthCollate, add_noise, fit_length
from degram_core.data.dataset import AudioDataset, Unreadable
from degram_core.data.sampler import BalancedSampler


def test_fit_length_tiles_short_clips_and_cuts_long_ones():
    rng = np.random.default_rng(0)
    short = np.arange(5, dtype=np.float32)
    tiled = fit_length(short, 12, rng)
    assert len(tiled) == 12
    # a tiled clip is a window of the clip repeated: consecutive samples follow the cycle
    assert all((tiled[i + 1] - tiled[i]) % 5 == 1 for i in range(11))
    long = np.arange(100, dtype=np.float32)
    for _ in range(50):
        cut = fit_length(long, 30, rng)
        assert len(cut) == 30 and 0 <= cut[0] <= 70 and np.all(np.diff(cut) == 1)


def test_tiling_with_pauses_puts_random_silences_between_whole_repeats():
    rng = np.random.default_rng(0)
    clip = np.arange(1, 6, dtype=np.float32)  # 1..5, no zeros of its own
    gaps = set()
    for _ in range(30):
        tiled = fit_length(clip, 40, rng, max_gap=4)
        assert len(tiled) == 40
        # split at the silences: every inner piece of speech is whole repeats of the clip
        # (a pause may be drawn as 0 samples long)
        runs = np.split(tiled, np.flatnonzero(np.diff(tiled == 0)) + 1)
        speech = [r for r in runs if r[0] != 0]
        assert all(len(r) % 5 == 0 and np.array_equal(r, np.tile(clip, len(r) // 5))
                   for r in speech[1:-1])
        gaps.update(len(r) for r in runs[1:-1] if r[0] == 0)
    assert gaps and max(gaps) <= 4 and len(gaps) > 1  # pauses of several lengths, none longer


def test_collate_draws_a_noise_level_per_clip_from_a_range():
    collate = RandomLengthCollate(min_s=1.0, max_s=1.0, snr_db=(5.0, 35.0), sample_rate=8000, seed=0)
    tone = np.sin(np.arange(8000) * 0.3).astype(np.float32)
    waves, _ = collate([(tone, 0)] * 16)
    snrs = [10 * np.log10(np.mean(tone ** 2) / np.mean((w.numpy() - tone) ** 2)) for w in waves]
    assert all(4.0 < s < 36.0 for s in snrs)
    assert max(snrs) - min(snrs) > 10  # not one SNR for all


def test_speed_perturbation_moves_pitch_and_makes_each_speed_a_speaker_of_its_own():
    rate, classes = 8000, 5
    collate = RandomLengthCollate(min_s=0.5, max_s=0.5, sample_rate=rate, seed=0,
                                  speeds=(0.9, 1.1), classes=classes)
    tone = np.sin(2 * np.pi * 1000 * np.arange(2 * rate) / rate).astype(np.float32)
    seen = set()
    for _ in range(10):
        waves, targets = collate([(tone, 3)] * 8)
        for wave, target in zip(waves.numpy(), targets.tolist()):
            speed = {3: 1.0, 3 + classes: 0.9, 3 + 2 * classes: 1.1}[target]
            peak = np.argmax(np.abs(np.fft.rfft(wave))) * rate / len(wave)
            assert abs(peak - 1000 * speed) < 20
            seen.add(speed)
    assert seen == {0.9, 1.0, 1.1}


def test_random_length_collate_stays_in_range_and_drops_unreadable():
    collate = RandomLengthCollate(min_s=0.5, max_s=0.75, sample_rate=1000, seed=1)
    lengths = set()
    for _ in range(20):
        waves, targets = collate([(np.ones(300, np.float32), 0), None, (np.ones(2000, np.float32), 1)])
        assert waves.shape[0] == 2 and targets.tolist() == [0, 1]
        assert 500 <= waves.shape[1] <= 750
        lengths.add(waves.shape[1])
    assert len(lengths) > 5  # a new length for each batch
    assert collate([None]) is None
    nothing = collate([Unreadable("x.wav", "corrupt")])
    assert nothing.waves is None and nothing.unreadable == [Unreadable("x.wav", "corrupt")]


def test_balanced_epoch_has_equal_class_counts_without_repeats():
    targets = [0] * 50 + [1] * 7 + [2] * 20
    sampler = BalancedSampler(targets, seed=3)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        chosen = list(sampler)
        counts = np.bincount(np.asarray(targets)[chosen], minlength=3)
        assert counts.tolist() == [7, 7, 7] and len(set(chosen)) == len(chosen) == len(sampler)
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first  # a different under-sample each epoch
    ranks = [list(BalancedSampler(targets, seed=3, rank=r, world_size=2)) for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1]) and len(ranks[0]) == len(ranks[1]) == 10


def test_noise_has_the_requested_snr():
    rng = np.random.default_rng(0)
    wave = np.sin(np.arange(160000) / 10).astype(np.float32)
    noisy = add_noise(wave, 5.0, rng)
    snr = 10 * np.log10(np.mean(wave ** 2) / np.mean((noisy - wave) ** 2))
    assert abs(snr - 5.0) < 0.1


def write_wav(path, seconds=0.2, rate=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(int(seconds * rate), np.float32) + 0.1, rate)


def test_manifest_round_trip_and_folder_builder(tmp_path):
    for label in ("bark", "siren"):
        for n in range(3):
            write_wav(tmp_path / "data" / label / f"{n}.wav")
    items = from_folder(tmp_path / "data")
    assert sorted({i.label for i in items}) == ["bark", "siren"] and len(items) == 6
    write_manifest(tmp_path / "lists" / "m.csv", items)
    assert "../data/bark/0.wav" in (tmp_path / "lists" / "m.csv").read_text()  # relative paths
    again = read_manifest(tmp_path / "lists" / "m.csv")
    assert [(i.path, i.label) for i in again] == [(i.path, i.label) for i in items]


def test_esc_fsdd_and_voxceleb_builders(tmp_path):
    (tmp_path / "esc" / "meta").mkdir(parents=True)
    (tmp_path / "esc" / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10\n1-1-A-0.wav,1,0,dog,True\n2-2-A-1.wav,2,1,rooster,False\n")
    items = from_esc(tmp_path / "esc")
    assert [(i.label, i.fold) for i in items] == [("dog", "1"), ("rooster", "2")]
    assert [i.label for i in from_esc(tmp_path / "esc", esc10_only=True)] == ["dog"]
    assert [i.label for i in select(items, exclude_folds=[1])] == ["rooster"]
    for name in ("3_jackson_0.wav", "3_jackson_7.wav", "5_theo_12.wav", "readme.wav"):
        write_wav(tmp_path / "fsdd" / name)
    speakers = from_fsdd(tmp_path / "fsdd")
    assert [(i.label, i.split) for i in speakers] == [("jackson", "test"), ("jackson", "train"),
                                                      ("theo", "train")]
    assert [i.label for i in from_fsdd(tmp_path / "fsdd", label="digit")] == ["3", "3", "5"]
    (tmp_path / "iden_split.txt").write_text("1 id10001/a/00001.wav\n3 id10002/b/00002.wav\n")
    vox = from_voxceleb1(tmp_path / "iden_split.txt", tmp_path / "wav")
    assert [(i.label, i.split) for i in vox] == [("id10001", "train"), ("id10002", "test")]


def test_unreadable_and_empty_clips_are_reported_and_skipped(tmp_path, caplog):
    good = tmp_path / "good.wav"
    write_wav(good)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, np.float32), 16000)
    dataset = AudioDataset([Item(str(good), "a"), Item(str(corrupt), "a"), Item(str(empty), "b")])
    samples = [dataset[i] for i in range(3)]
    assert samples[0][1] == 0 and [type(s) for s in samples[1:]] == [Unreadable, Unreadable]
    assert samples[1].path == str(corrupt) and dataset.audio(2) is None
    assert set(dataset.bad) == {str(corrupt), str(empty)}
    assert "corrupt.wav" in caplog.text and "empty.wav" in caplog.text


def test_unknown_labels_are_refused():
    with pytest.raises(ValueError, match="not among"):
        AudioDataset([Item("x.wav", "cat")], labels=["dog"])


def test_a_loud_crop_holds_the_event_of_a_mostly_quiet_clip():
    from degram_core.data.crops import fit_length

    wave = np.zeros(5 * 16000, np.float32)
    wave[60000:62000] = 0.5  # a bark at 3.75-3.875 s of a quiet 5 s clip
    rng = np.random.default_rng(0)
    loud = [fit_length(wave, 32000, rng, loud=True) for _ in range(50)]
    plain = [fit_length(wave, 32000, rng) for _ in range(50)]
    assert all(np.abs(c).max() == 0.5 for c in loud)
    assert sum(np.abs(c).max() == 0.5 for c in plain) < 45  # uniform cuts miss it often
    # all-silent and short clips still give a crop of the length asked
    assert fit_length(np.zeros(80000, np.float32), 32000, rng, loud=True).shape == (32000,)
    assert fit_length(np.ones(100, np.float32), 32000, rng, loud=True).shape == (32000,)
