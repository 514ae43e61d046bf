#!/usr/bin/env python3
"""Write the training manifest of the shipped sound-event model: ESC-10's ten classes plus
`speech` and `background`, each item with a fold so that one fold validates and one tests.

- ESC-10: the official folds (fold 5 is the held-out test fold, fold 4 validates).
- speech: speechocean762 train-split speakers (PER_SPEAKER clips each) and FSDD train takes;
  the fold is drawn from the speaker, so no voice is in two folds. The test-split speakers and
  FSDD test takes stay unheard (bench/false_events.py plays them).
- background: written as 4 s clips into OUT_DIR/background/: stretches of the first 70 % of each
  noise recording (the person imitating a cat is left out: it is a voice), synthetic room tone
  (pink/brown noise, mains hum) at -70..-30 dBFS, steady tones, DC offsets, clipped noise and
  digital silence: what a robot hears when nothing happens.

    python tools/prepare_sound_events.py [--data ../shared/data] [--out runs/manifests]

`--leave-out ROOM` also writes sound_events_no_ROOM.csv without that recording's background
clips: with `noise_exclude` naming it too, a model trained on it has never heard the room
(bench/unheard_room.py).
"""
from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np
import soundfile

from degram_core import data
from degram_core.runtime.audio import SAMPLE_RATE, load_audio
from degram_core.data.mixing import NOISE_TRAIN_FRACTION, at_level, room_tone

CLIP_S = 4.0
PER_SPEAKER = 4  # speechocean762 clips per train-split speaker
FSDD_PER_SPEAKER = 40
NOT_BACKGROUND = {"dude_miaowing"}  # a person's voice imitating a cat


def fold_of(key: str) -> str:
    return str(zlib.crc32(key.encode()) % 5 + 1)


def synthetic_backgrounds(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    n = int(CLIP_S * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    clips = []
    for i in range(count):
        kind = i % 5
        if kind in (0, 1):  # the quiet room
            wave = room_tone(n, rng)
        elif kind == 2:  # a steady tone (fans, a charger's whine, a test beep)
            wave = at_level(np.sin(2 * np.pi * rng.uniform(80, 6000) * t), rng.uniform(-50, -3))
        elif kind == 3:  # DC offset over a quiet floor
            wave = rng.uniform(-0.5, 0.5) + room_tone(n, rng, (-80, -50))
        else:  # clipped loud noise
            wave = np.clip(at_level(rng.standard_normal(n), rng.uniform(-6, 6)), -1, 1)
        clips.append(np.asarray(wave, dtype=np.float32))
    clips += [np.zeros(n, dtype=np.float32)] * max(1, count // 10)  # digital silence
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="runs/manifests")
    parser.add_argument("--leave-out", action="append", default=[], metavar="ROOM",
                        help="also write a manifest without this noise recording (its stem)")
    args = parser.parse_args()
    root, out = Path(args.data), Path(args.out)
    rng = np.random.default_rng(0)

    items = data.from_esc(root / "esc10")
    speech = data.select(data.from_speechocean762(root / "speechocean762"), split="train")
    by_speaker: dict[str, list] = {}
    for item in speech:
        by_speaker.setdefault(item.speaker, []).append(item)
    for speaker, clips in sorted(by_speaker.items()):
        for i in rng.permutation(len(clips))[:PER_SPEAKER]:
            items.append(data.Item(clips[i].path, "speech", fold=fold_of("so" + speaker)))
    fsdd = data.select(data.from_fsdd(root / "fsdd" / "recordings"), split="train")
    for speaker in sorted({i.speaker for i in fsdd}):
        clips = [i for i in fsdd if i.speaker == speaker]
        for i in rng.permutation(len(clips))[:FSDD_PER_SPEAKER]:
            items.append(data.Item(clips[i].path, "speech", fold=fold_of("fsdd" + speaker)))

    folder = out / "background"
    folder.mkdir(parents=True, exist_ok=True)
    n = int(CLIP_S * SAMPLE_RATE)
    written = 0
    for path in sorted((root / "noise").glob("*.flac")):
        if path.stem in NOT_BACKGROUND:
            continue
        wave = load_audio(path)[:int(len(load_audio(path)) * NOISE_TRAIN_FRACTION)]
        for k, start in enumerate(range(0, len(wave) - n + 1, n)):
            clip = folder / f"{path.stem}_{k:02d}.wav"
            soundfile.write(clip, wave[start:start + n], SAMPLE_RATE, subtype="FLOAT")
            items.append(data.Item(str(clip), "background", fold=str(k % 5 + 1)))
            written += 1
    for k, wave in enumerate(synthetic_backgrounds(100, rng)):
        clip = folder / f"synthetic_{k:03d}.wav"
        soundfile.write(clip, wave, SAMPLE_RATE, subtype="FLOAT")
        # k // 5, not k: the kinds cycle with period 5, and every fold needs every kind
        items.append(data.Item(str(clip), "background", fold=str(k // 5 % 5 + 1)))
        written += 1

    manifest = out / "sound_events.csv"
    data.write_manifest(manifest, items)
    counts = {}
    for item in items:
        counts[item.label] = counts.get(item.label, 0) + 1
    print(f"{manifest}: {len(items)} clips ({written} background clips in {folder}); {counts}")
    for room in args.leave_out:
        kept = [i for i in items if not Path(i.path).stem.startswith(room + "_")]
        if len(kept) == len(items):
            raise SystemExit(f"--leave-out {room}: no background clip of that recording")
        data.write_manifest(out / f"sound_events_no_{room}.csv", kept)
        print(f"{out / f'sound_events_no_{room}.csv'}: {len(kept)} clips, none of {room}")


if __name__ == "__main__":
    main()
