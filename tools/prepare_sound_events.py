#!/usr/bin/env python3
"""Write the manifests of the open-world sound-event model: what a robot should name, and all
the real and synthetic audio there is of what it should not (outlier exposure).

Every source is split by what makes its clips alike (recording, position, speaker, baby,
stretch of a recording), never by clip, into folds: 1-3 train, 4 validates, 5 is held out for
the benchmarks (bench/false_events.py, bench/teach.py) and never chooses anything.

Events (labels):
- ESC-10's ten classes, on their official folds;
- crying_baby also from donateacry (457 cries of many babies and phones), fold by uploader;
- snu_b36 (heard through a building's floors): `impact` (a medicine ball or a hammer dropped),
  `hammering`, `chair_dragging`, `vacuum_cleaner`; fold by position: F0m trains (fold =
  source floor), F6m validates, F12m is held out.
Not events:
- `speech`: speechocean762 and FSDD train-split speakers, DSPSpeech-20 speakers, and the clips
  of home_noise in which the voice-activity model hears speech; fold by speaker (home_noise:
  by clip, the only grouping its metadata has);
- `background`: 4 s stretches of the noise and street recordings (the first half of each
  trains, 50-70 % validates, the last 30 % is bench/false_events.py's), home_noise clips
  without speech (by clip), and synthetic clips of what real places are full of
  (degram_core's synthetic families: hums, engines, clicks, beeps, tones, bursts, room tone,
  DC, clipping, silence) mixed under each other at many levels.
The noise bank (`noise_bank/`, the recipe's noise_dir) holds the training parts of the
recordings and home_noise and a synthetic-family recording, mixed under events and speech.

    python tools/prepare_sound_events.py [--data ../shared/data] [--out runs/manifests]

It also writes `sound_events_unheard.csv` and `noise_bank_unheard/`: without street, home_noise
and snu_b36, and without five ESC-10 classes (UNHEARD_ESC): the recipe trained on them
(config/train_sound_events_unheard.yaml) is scored on sources it never heard
(bench/unheard_sources.py) and taught the left-out classes (bench/teach.py).
"""
from __future__ import annotations

import argparse
import csv
import zlib
from pathlib import Path

import numpy as np
import soundfile

from degram_core import data
from degram_core.data.mixing import at_level
from degram_core.data.synthetic import FAMILIES, scene
from degram_core.runtime.audio import SAMPLE_RATE, load_audio

CLIP_S = 4.0
PER_SPEAKER = 4  # speechocean762 clips per train-split speaker
FSDD_PER_SPEAKER = 40
DSP_PER_SPEAKER = 12  # DSPSpeech-20 words per speaker
SYNTHETIC_CLIPS = 400
NOT_BACKGROUND = {"dude_miaowing"}  # a person's voice imitating a cat
TRAIN_END, VAL_END = 0.5, 0.7  # of each recording: train, validation; the rest is held out
SNU_LABEL = {"medicine_ball_drop": "impact", "hammer_drop": "impact", "hammering": "hammering",
             "chair_dragging": "chair_dragging", "vacuum_cleaner": "vacuum_cleaner"}
SNU_FOLD = {"F6m": "4", "F12m": "5"}  # F0m: the source floor's fold (1-3)
# Left out of the unheard variant, to be taught (a seeded draw of ESC-10 minus crying_baby,
# which donateacry keeps large).
UNHEARD_ESC = ["chainsaw", "clock_tick", "dog", "rooster", "sea_waves"]
SPEECH_SHARE = 0.3  # home_noise clips with this share of speech frames are speech
SOME_SPEECH = 0.05  # ... and clips with some speech but less are neither: a faint TV or voice
# taught as background made validation background windows score as speech


def fold_of(key: str) -> str:
    return str(zlib.crc32(key.encode()) % 5 + 1)


def speech_items(root: Path, rng: np.random.Generator) -> list[data.Item]:
    items = []
    speech = data.select(data.from_speechocean762(root / "speechocean762"), split="train")
    by_speaker: dict[str, list] = {}
    for item in speech:
        by_speaker.setdefault(item.speaker, []).append(item)
    for speaker, clips in sorted(by_speaker.items()):
        for i in rng.permutation(len(clips))[:PER_SPEAKER]:
            items.append(data.Item(clips[i].path, "speech", fold=fold_of("so" + speaker),
                                   speaker="so" + speaker))
    fsdd = data.select(data.from_fsdd(root / "fsdd" / "recordings"), split="train")
    for speaker in sorted({i.speaker for i in fsdd}):
        clips = [i for i in fsdd if i.speaker == speaker]
        for i in rng.permutation(len(clips))[:FSDD_PER_SPEAKER]:
            items.append(data.Item(clips[i].path, "speech", fold=fold_of("fsdd" + speaker),
                                   speaker="fsdd" + speaker))
    with open(root / "dspspeech20" / "meta.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for speaker in sorted({r["speaker"] for r in rows}):
        clips = [r for r in rows if r["speaker"] == speaker]
        for i in rng.permutation(len(clips))[:DSP_PER_SPEAKER]:
            items.append(data.Item(str(root / "dspspeech20" / clips[i]["file"]), "speech",
                                   fold=fold_of("dsp" + speaker), speaker="dsp" + speaker))
    return items


def event_items(root: Path) -> list[data.Item]:
    items = data.from_esc(root / "esc10")
    with open(root / "donateacry" / "meta.csv", newline="") as f:
        for r in csv.DictReader(f):
            uploader = Path(r["file"]).name[:36]  # the app's id of the phone that sent it
            items.append(data.Item(str(root / "donateacry" / r["file"]), "crying_baby",
                                   fold=fold_of("cry" + uploader), speaker="cry" + uploader))
    with open(root / "snu_b36" / "meta.csv", newline="") as f:
        for r in csv.DictReader(f):
            fold = SNU_FOLD.get(r["position"], r["source_floor"])
            items.append(data.Item(str(root / "snu_b36" / r["file"]), SNU_LABEL[r["kind"]],
                                   fold=fold, speaker=f"snu_{r['kind']}_{r['source_floor']}"
                                   f"_{r['position']}"))
    return items


def home_noise(root: Path) -> tuple[list[data.Item], list[data.Item]]:
    """home_noise clips as (speech, background) by what the voice-activity model hears in them,
    each clip brought to -25 dBFS first (the clips are very quiet; the VAD wants a voice at a
    talking level)."""
    from degram_core.runtime.vad import VoiceActivity

    vad = VoiceActivity()
    speech, background = [], []
    with open(root / "home_noise" / "meta.csv", newline="") as f:
        for r in csv.DictReader(f):
            path = root / "home_noise" / r["file"]
            wave = load_audio(path)
            share = float(np.mean(vad.frames(at_level(wave, -25.0)) >= 0.5)) if len(wave) >= 512 else 0
            if SOME_SPEECH <= share < SPEECH_SHARE:
                continue
            item = data.Item(str(path), "speech" if share >= SPEECH_SHARE else "background",
                             fold=fold_of("home" + r["file"]), speaker="home_noise")
            (speech if item.label == "speech" else background).append(item)
    return speech, background


def recording_clips(path: Path, folder: Path, source: str) -> list[data.Item]:
    """4 s clips of a recording's first 70 %: stretches in time order, the first half training
    (folds 1-3 in turn), the rest validating (fold 4), so validation hears a later stretch."""
    wave = load_audio(path)
    n = int(CLIP_S * SAMPLE_RATE)
    items = []
    for k, start in enumerate(range(0, int(len(wave) * VAL_END) - n + 1, n)):
        clip = folder / f"{source}_{path.stem[:12]}_{k:02d}.wav"
        soundfile.write(clip, wave[start:start + n], SAMPLE_RATE, subtype="FLOAT")
        fold = str(k % 3 + 1) if start + n <= len(wave) * TRAIN_END else "4"
        items.append(data.Item(str(clip), "background", fold=fold, speaker=source))
    return items


def synthetic_items(folder: Path, rng: np.random.Generator) -> list[data.Item]:
    items = []
    for k in range(SYNTHETIC_CLIPS):
        clip = folder / f"synthetic_{k:03d}.wav"
        soundfile.write(clip, scene(int(CLIP_S * SAMPLE_RATE), rng), SAMPLE_RATE, subtype="FLOAT")
        items.append(data.Item(str(clip), "background", fold=str(k % 5 + 1), speaker="synthetic"))
    return items


def noise_bank(folder: Path, recordings: list[Path], home: list[data.Item],
               rng: np.random.Generator) -> None:
    """The training parts only: NoiseBank keeps the first 70 % of each file it reads, so each
    file written here is padded with a tail of silence it never reaches."""
    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, wave: np.ndarray) -> None:
        tail = np.zeros(int(len(wave) * 0.3 / 0.7) + 1, np.float32)
        soundfile.write(folder / f"{name}.flac", np.concatenate([wave, tail]), SAMPLE_RATE)

    for path in recordings:
        wave = load_audio(path)
        write(path.stem[:24], wave[:int(len(wave) * TRAIN_END)])
    if home:
        write("home_noise", np.concatenate([load_audio(i.path) for i in home]))
    write("synthetic_families", np.concatenate(
        [scene(int(CLIP_S * SAMPLE_RATE), rng) for _ in range(60)]))


def summary(name: Path, items: list[data.Item]) -> None:
    counts: dict[str, dict[str, int]] = {}
    for item in items:
        counts.setdefault(item.label, {}).setdefault(item.fold, 0)
        counts[item.label][item.fold] += 1
    print(f"{name}: {len(items)} clips")
    for label, folds in sorted(counts.items()):
        print(f"  {label:16s} " + " ".join(f"f{k}:{v}" for k, v in sorted(folds.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="runs/manifests")
    args = parser.parse_args()
    root, out = Path(args.data), Path(args.out)
    rng = np.random.default_rng(0)
    folder = out / "background"
    folder.mkdir(parents=True, exist_ok=True)

    events = event_items(root)
    speech = speech_items(root, rng)
    home_speech, home_background = home_noise(root)
    noise = [p for p in sorted((root / "noise").glob("*.flac")) if p.stem not in NOT_BACKGROUND]
    street = sorted((root / "street" / "audio").glob("*.opus"))
    recorded = [c for p in noise for c in recording_clips(p, folder, "noise")]
    streets = [c for p in street for c in recording_clips(p, folder, "street")]
    synthetic = synthetic_items(folder, rng)
    print("synthetic families:", ", ".join(FAMILIES))

    everything = events + speech + home_speech + home_background + recorded + streets + synthetic
    data.write_manifest(out / "sound_events.csv", everything)
    summary(out / "sound_events.csv", everything)
    train_home = [i for i in home_background if i.fold in {"1", "2", "3"}]
    noise_bank(out / "noise_bank", noise + street, train_home, rng)

    snu = {SNU_LABEL[k] for k in SNU_LABEL}
    unheard = [i for i in events if i.label not in set(UNHEARD_ESC) | snu] + speech + recorded + synthetic
    data.write_manifest(out / "sound_events_unheard.csv", unheard)
    summary(out / "sound_events_unheard.csv", unheard)
    noise_bank(out / "noise_bank_unheard", noise, [], rng)


if __name__ == "__main__":
    main()
