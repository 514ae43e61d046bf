#!/usr/bin/env python3
"""Build the demo scene data/demo/scene.wav from the shared real recordings.

Sound events, speech and a quiet room alternate, so a timeline shows both nodes at work and
where they must stay silent: ESC-10 dog, FSDD jackson, ESC-10 crying baby, a speechocean762
stranger (nobody enrolled: "unknown"), FSDD theo, a quiet room (the held-out end of the pink
noise recording at -45 dBFS), ESC-10 rooster; 0.5 s of silence between segments. Only clips the
shipped models never trained on: ESC-10 fold 5 (the sound model's test fold), FSDD test-split
takes 0-4, a speechocean762 test-split speaker, the last 30 % of a noise recording.
Also writes enroll/<speaker>.wav: FSDD train-split takes of jackson and theo, which the demo
enrolls before it plays (the shipped speaker model learned both voices from 60 train takes
each, one of these enrollment takes among them; the scene's test takes it never heard).
Writes scene.wav (16 kHz mono PCM 16), scene.json (the ground truth segments) and
ATTRIBUTION.txt (every source, its licence and where it lies in the scene).

    python tools/make_demo_clip.py [--data ../shared/data] [--out data/demo]
"""
from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import numpy as np
import soundfile

from degram_core.runtime.audio import load_audio

RATE = 16000
GAP_S = 0.5           # silence between segments
# A speaker pauses between digits as people do between words. (A speaker model trained on
# back-to-back digits alone named such windows "lucas"; the shipped one trains with pauses.)
DIGIT_GAP_S = 0.25
SPEECH_S = 4.5        # digits are added until a speaker's segment is this long
TARGET_DB = -20.0     # active level of every segment (dBFS)
PEAK = 0.89           # -1 dBFS
# (kind, ESC-10 file or FSDD speaker); all ESC clips fold 5, CC0 or CC-BY
SCENE = [
    ("event", "5-208030-A-0.wav"),      # dog, CC0
    ("speech", "jackson"),
    ("event", "5-198411-E-20.wav"),     # crying_baby, CC-BY
    ("stranger", "speechocean762"),
    ("speech", "theo"),
    ("quiet", "pink_noise"),
    ("event", "5-234879-B-1.wav"),      # rooster, CC0
]
STRANGER = "1181"  # a speechocean762 test-split speaker
STRANGER_S = 6.0
QUIET_S = 6.0
QUIET_DB = -45.0
ENROLL_S = 4.0  # of FSDD train-split digits per enrolled speaker
DIGITS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]   # spoken in this order; a repeat takes the next take


def active_level_db(audio: np.ndarray, frame: int = 320) -> float:
    """RMS (dBFS) over the frames within 30 dB of the loudest: silence does not pull it down."""
    frames = audio[:len(audio) // frame * frame].reshape(-1, frame)
    db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    active = frames[db > db.max() - 30]
    return float(10 * np.log10(np.mean(active.astype(np.float64) ** 2) + 1e-12))


def normalise(audio: np.ndarray) -> np.ndarray:
    audio = audio * 10 ** ((TARGET_DB - active_level_db(audio)) / 20)
    peak = np.abs(audio).max()
    return (audio * (PEAK / peak) if peak > PEAK else audio).astype(np.float32)


def esc_authors(data: Path) -> dict[str, str]:
    """orig_file -> 'derived from ... by ... [licence]' from ESC-10's ATTRIBUTION.txt."""
    lines = (data / "esc10" / "ATTRIBUTION.txt").read_text().splitlines()
    found = {}
    for line in lines:
        match = re.match(r"- \[(.+?)\]: clip (.*)$", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=root / "data" / "demo")
    args = parser.parse_args()
    data, out = args.data, args.out
    esc = {row["filename"]: row for row in csv.DictReader(open(data / "esc10/meta/esc10.csv"))}
    fsdd = list(csv.DictReader(open(data / "fsdd/meta.csv")))
    authors = esc_authors(data)

    pieces, segments, sources, t = [], [], [], 0.0
    for kind, what in SCENE:
        if pieces:
            pieces.append(np.zeros(round(GAP_S * RATE), np.float32))
            t += GAP_S
        if kind == "event":
            row = esc[what]
            assert row["fold"] == "5" and row["clip_license"] in ("CC0", "CC-BY"), row
            audio = normalise(load_audio(data / "esc10" / "audio" / what, RATE))
            label = row["category"]
            sources.append((t, t + len(audio) / RATE, f"ESC-10 {what} ({label}), "
                            f"clip {authors.get(row['orig_file'], 'of freesound.org')}; "
                            f"clip licence {row['clip_license']}; ESC-10 CC BY 3.0, Karol J. Piczak"))
        elif kind == "stranger":
            meta = [r for r in csv.DictReader(open(data / "speechocean762" / "meta.csv"))
                    if r["speaker"] == STRANGER]
            assert meta and all(r["split"] == "test" for r in meta)
            parts = []
            for row in meta:
                if sum(len(p) for p in parts) / RATE >= STRANGER_S:
                    break
                parts.append(load_audio(data / "speechocean762" / row["file"], RATE))
                start = t + sum(len(p) for p in parts[:-1]) / RATE
                sources.append((start, start + len(parts[-1]) / RATE,
                                f"speechocean762 {row['file']} (speaker {STRANGER}, test split); "
                                f"free for commercial and non-commercial use, Junbo Zhang et al."))
            audio, label, kind = normalise(np.concatenate(parts)), "unknown", "speech"
        elif kind == "quiet":
            wave = load_audio(data / "noise" / f"{what}.flac", RATE)
            held = wave[int(len(wave) * 0.7):][:round(QUIET_S * RATE)]
            audio = (held * 10 ** ((QUIET_DB - 10 * np.log10(np.mean(held ** 2))) / 20)).astype(np.float32)
            label = "room noise"
            sources.append((t, t + len(audio) / RATE,
                            f"Speech Commands _background_noise_/{what}.wav, its last 30 % (never "
                            f"trained on), at {QUIET_DB:g} dBFS; CC BY 4.0, Pete Warden"))
        else:
            label, parts, used = what, [], {}
            takes = {(int(r["digit"]), int(r["index"])): r for r in fsdd
                     if r["speaker"] == what and r["split"] == "test"}
            for digit in DIGITS:
                if parts and sum(len(p) for p in parts) / RATE >= SPEECH_S - 0.4:
                    break
                take = used.get(digit, -1) + 1
                used[digit] = take
                row = takes[(digit, take)]
                assert 0 <= int(row["index"]) <= 4
                if parts and DIGIT_GAP_S:
                    parts.append(np.zeros(round(DIGIT_GAP_S * RATE), np.float32))
                start = t + sum(len(p) for p in parts) / RATE
                parts.append(load_audio(data / "fsdd" / row["file"], RATE))
                sources.append((start, start + len(parts[-1]) / RATE,
                                f"FSDD {row['file']} (speaker {what}, digit {digit}, take {take}, "
                                f"test split); CC BY-SA 4.0, Zohar Jackson et al."))
            audio = normalise(np.concatenate(parts))
        segments.append({"start_s": round(t, 3), "end_s": round(t + len(audio) / RATE, 3),
                         "kind": kind, "label": label})
        pieces.append(audio)
        t += len(audio) / RATE

    scene = np.concatenate(pieces)
    out.mkdir(parents=True, exist_ok=True)
    (out / "enroll").mkdir(exist_ok=True)
    for speaker in [what for kind, what in SCENE if kind == "speech"]:
        rows = [r for r in fsdd if r["speaker"] == speaker and r["split"] == "train"]
        parts = []
        for row in rows[::7]:
            if sum(len(p) for p in parts) / RATE >= ENROLL_S:
                break
            parts += [load_audio(data / "fsdd" / row["file"], RATE),
                      np.zeros(round(DIGIT_GAP_S * RATE), np.float32)]
            sources.append((-1, -1, f"enroll/{speaker}.wav: FSDD {row['file']} (train split); "
                                    f"CC BY-SA 4.0, Zohar Jackson et al."))
        soundfile.write(out / "enroll" / f"{speaker}.wav", normalise(np.concatenate(parts)), RATE,
                        subtype="PCM_16")
    soundfile.write(out / "scene.wav", scene, RATE, subtype="PCM_16")
    (out / "scene.json").write_text(json.dumps(
        {"file": "scene.wav", "sample_rate": RATE, "duration_s": round(len(scene) / RATE, 3),
         "segments": segments,
         "enroll": {s: f"enroll/{s}.wav" for kind, s in SCENE if kind == "speech"}}, indent=2) + "\n")
    lines = [
        "data/demo/scene.wav: the demo scene of degram (16 kHz mono, 16-bit PCM).",
        "",
        "The scene is licensed CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/),",
        "as it contains material of the Free Spoken Digit Dataset (CC BY-SA 4.0). It was made",
        "by tools/make_demo_clip.py: every source resampled to 16 kHz, mono, loudness-normalised",
        f"to {TARGET_DB:g} dBFS active level, concatenated with {GAP_S:g} s of silence between",
        "segments; nothing else was changed.",
        "",
        "Sources:",
        "- ESC-10 (a subset of ESC-50): Karol J. Piczak, \"ESC: Dataset for Environmental Sound",
        "  Classification\", ACM Multimedia 2015, https://github.com/karoldvl/ESC-10/,",
        "  CC BY 3.0 (https://creativecommons.org/licenses/by/3.0/); clips of freesound.org,",
        "  each under the licence given below (CC0 or CC BY).",
        "- Free Spoken Digit Dataset: Zohar Jackson et al.,",
        "  https://github.com/Jakobovski/free-spoken-digit-dataset,",
        "  CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/).",
        "- speechocean762: Junbo Zhang et al., Interspeech 2021,",
        "  https://github.com/jimbozhang/speechocean762, free for commercial and non-commercial use.",
        "- Speech Commands background noise: Pete Warden, 2018, CC BY 4.0",
        "  (https://creativecommons.org/licenses/by/4.0/).",
        "",
        "Segments (seconds in the scene):",
    ]
    lines += [f"  {s['start_s']:6.2f}-{s['end_s']:6.2f}  {s['kind']:6s} {s['label']}" for s in segments]
    lines += ["", "Every source file and where it lies in the scene:"]
    lines += [f"  {a:6.2f}-{b:6.2f}  {text}" for a, b, text in sources if a >= 0]
    lines += ["", "The enrollment clips (enroll/<speaker>.wav), made the same way:"]
    lines += [f"  {text}" for a, b, text in sources if a < 0]
    (out / "ATTRIBUTION.txt").write_text("\n".join(lines) + "\n")
    print(f"{out / 'scene.wav'}: {len(scene) / RATE:.2f} s, "
          f"{(out / 'scene.wav').stat().st_size / 1e6:.2f} MB, {len(segments)} segments")


if __name__ == "__main__":
    main()
