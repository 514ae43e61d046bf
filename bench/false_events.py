"""Does the robot hear only what is there? The shipped models and the voice-activity gate over
streams no model here was trained on, window by window with the nodes' own settings
(config/sound_events.yaml, config/speaker_id.yaml; thresholds from the models when the
parameters leave them to the models).

    python bench/false_events.py [--sound models/sound_events.pt] [--speaker models/speaker_id.pt]

Streams (16 kHz, each played as one long recording):
- speech: speechocean762 test-split speakers (2 utterances each, 125 speakers) and FSDD test
  takes (digits with pauses of 0.1-0.4 s);
- background: the held-out last 30 % of each noise recording (the voice imitating a cat is a
  row of its own: it is a person) and of each street recording, synthetic quiet rooms at -60
  and -40 dBFS, synthetic hums, engines, clicks, beeps, tones and bursts (a seed training never
  drew);
- home: home_noise's held-out fold 5 clips (real homes through voice-assistant devices; people
  talk there, so `speech` is no false event);
- non-speech events: ESC-10 fold 5 (the sound model's test fold), a 1 kHz tone, full-scale
  white noise, noise bursts, digital silence, DC offset, clipping.
Figures: sound events a minute that are neither `speech` on speech nor nothing on background;
the share of speech windows in which `speech` is reported; the share of speech windows that
pass the speaker gate; speaker names a minute on non-speech (10 test-split speakers enrolled
from 3 utterances each, so a name can be given); the gate's cost in ms per second of audio.
"""
from __future__ import annotations

import argparse
import csv
import os
from collections import Counter
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from prepare_sound_events import event_items, fold_of  # noqa: E402
from degram_core import data  # noqa: E402
from degram_core.runtime.audio import load_audio  # noqa: E402
from degram_core.scoring.calibration import window_probabilities, windows  # noqa: E402
from degram_core.runtime.events import SPEECH, reported  # noqa: E402
from degram_core.runtime.classifier import Classifier  # noqa: E402
from degram_core.data.mixing import NOISE_TRAIN_FRACTION, at_level, room_tone  # noqa: E402
from degram_core.data.synthetic import scene  # noqa: E402
from degram_core.galleries.enrollment import voice_embedding  # noqa: E402
from degram_core.galleries.gallery import Gallery  # noqa: E402
from degram_core.runtime.operating_points import event_thresholds, resolve  # noqa: E402
from degram_core.runtime.vad import VoiceActivity  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
RATE = 16000


def node_params(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text())["/**"]["ros__parameters"]


def joined(waves, rng, gap=(0.1, 0.4)) -> np.ndarray:
    parts = []
    for wave in waves:
        parts += [wave, np.zeros(int(rng.uniform(*gap) * RATE), np.float32)]
    return np.concatenate(parts)


def streams(rng) -> dict[str, tuple[str, np.ndarray]]:
    """name -> (kind, audio); kind: speech, background or other (non-speech events)."""
    out = {}
    so = data.select(data.from_speechocean762(DATA / "speechocean762"), split="test")
    by_speaker = {}
    for item in so:
        by_speaker.setdefault(item.speaker, []).append(item)
    out["speechocean762 test speakers"] = ("speech", joined(
        [load_audio(i.path) for clips in by_speaker.values() for i in clips[:2]], rng))
    fsdd = [i for i in data.from_fsdd(DATA / "fsdd" / "recordings") if i.split == "test"]
    out["FSDD test takes"] = ("speech", joined([load_audio(i.path) for i in fsdd], rng))
    for path in sorted((DATA / "noise").glob("*.flac")):
        wave = load_audio(path)
        held = wave[int(len(wave) * NOISE_TRAIN_FRACTION):]
        kind = "other" if path.stem == "dude_miaowing" else "background"
        out[f"noise {path.stem} (held-out 30 %)"] = (kind, held)
    for path in sorted((DATA / "street" / "audio").glob("*.opus")):
        wave = load_audio(path)
        out[f"street {path.stem[:8]} (held-out 30 %)"] = ("background",
                                                         wave[int(len(wave) * NOISE_TRAIN_FRACTION):])
    with open(DATA / "home_noise" / "meta.csv", newline="") as f:
        home = [r["file"] for r in csv.DictReader(f) if fold_of("home" + r["file"]) == "5"]
    out["home_noise held-out fold 5"] = ("home", joined([load_audio(DATA / "home_noise" / f)
                                                        for f in home], rng, (0.0, 0.0)))
    families = np.random.default_rng(12345)
    out["synthetic families"] = ("background", np.concatenate(
        [scene(4 * RATE, families) for _ in range(30)]))
    for level in (-60, -40):
        out[f"quiet room {level} dBFS"] = ("background", room_tone(120 * RATE, rng, (level, level)))
    esc = [i for i in data.from_esc(DATA / "esc10") if i.fold == "5"]
    out["ESC-10 fold 5 events"] = ("other", joined([load_audio(i.path) for i in esc], rng))
    t = np.arange(30 * RATE) / RATE
    out["1 kHz tone"] = ("other", at_level(np.sin(2 * np.pi * 1000 * t), -6))
    out["white noise, full scale"] = ("other",
                                      np.clip(rng.uniform(-1, 1, 30 * RATE), -1, 1).astype(np.float32))
    bursts = np.zeros(30 * RATE, np.float32)
    for start in range(0, len(bursts) - RATE, RATE):
        bursts[start:start + RATE // 5] = rng.uniform(-0.8, 0.8, RATE // 5)
    out["noise bursts"] = ("other", bursts)
    out["digital silence"] = ("background", np.zeros(30 * RATE, np.float32))
    out["DC offset 0.3"] = ("background", np.full(30 * RATE, 0.3, np.float32))
    out["clipped noise"] = ("other", np.clip(rng.standard_normal(30 * RATE) * 3, -1, 1).astype(np.float32))
    return out


def event_threshold(params: dict, classifier) -> np.ndarray:
    """The sound node's thresholds (C,): its parameter, or the model's own (one per class
    where it has them) when it is left negative."""
    return event_thresholds(classifier.labels, params["threshold"], classifier)


def held_out_events() -> dict[str, list[np.ndarray]]:
    """label -> held-out clips of each event class: ESC-10 fold 5, donateacry's fold 5 babies,
    snu_b36 position F12m (tools/prepare_sound_events.py's fold 5)."""
    out: dict[str, list[np.ndarray]] = {}
    for item in event_items(DATA):
        if item.fold == "5":
            out.setdefault(item.label, []).append(load_audio(item.path))
    return out


def event_recall(classifier, threshold, window_s, hop_s, top_k) -> None:
    """Window recall of each held-out event class (its event reported in the window) and clip
    recall (reported in at least one window of the clip)."""
    labels = classifier.labels
    rows = []
    for label, clips in sorted(held_out_events().items()):
        if label not in labels:
            continue
        hits, windows_total, clip_hits = 0, 0, 0
        for wave in clips:
            probs = window_probabilities(classifier, wave, window_s, hop_s)
            said = [{labels[i] for i, _ in reported(p, labels, threshold, top_k)} for p in probs]
            hits += sum(label in w for w in said)
            windows_total += len(said)
            clip_hits += any(label in w for w in said)
        rows.append((label, len(clips), hits / windows_total, clip_hits / len(clips)))
    print("\n| event (held out) | clips | window recall | clip recall |\n|---|---|---|---|")
    for label, n, window_recall, clip_recall in rows:
        print(f"| {label} | {n} | {window_recall:.3f} | {clip_recall:.3f} |")
    print(f"mean over classes: window recall {np.mean([r[2] for r in rows]):.3f}, "
          f"clip recall {np.mean([r[3] for r in rows]):.3f}")


def sound_figures(classifier, threshold, window_s, hop_s, top_k, kind, audio) -> dict:
    probs = window_probabilities(classifier, audio, window_s, hop_s)
    minutes = len(probs) * hop_s / 60
    labels = classifier.labels
    events = [[labels[i] for i, _ in reported(p, labels, threshold, top_k)] for p in probs]
    allowed = {SPEECH} if kind in ("speech", "home") else set()
    false = sum(sum(1 for e in window if e not in allowed) for window in events)
    said = Counter(e for window in events for e in window if e not in allowed)
    out = {"windows": len(probs), "false events / min": false / minutes,
           "said": dict(said.most_common(3))}
    if kind == "speech":
        out["speech reported"] = float(np.mean([SPEECH in window for window in events]))
    return out


def speaker_figures(classifier, gallery, vad, min_speech, threshold, window_s, hop_s, kind,
                    audio) -> dict:
    frames = windows(audio, round(window_s * RATE), round(hop_s * RATE))
    minutes = len(frames) * hop_s / 60
    passed = [vad.speech_fraction(w)[0] >= min_speech for w in frames]
    names = 0
    for w, ok in zip(frames, passed):
        if ok:
            embedding, cohort = classifier.speaker_vector(w, RATE)
            names += gallery.identify(embedding, threshold, 1, cohort).known  # as the node does
    out = {"gate passed": float(np.mean(passed))}
    if kind != "speech":
        out["speaker names / min"] = names / minutes
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sound", default=str(ROOT / "models" / "sound_events.pt"))
    parser.add_argument("--speaker", default=str(ROOT / "models" / "speaker_id.pt"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)

    sp, ss = node_params("sound_events"), node_params("speaker_id")
    sound = Classifier(args.sound, device="cpu")
    threshold = event_threshold(sp, sound)
    speaker = Classifier(args.speaker, device="cpu")
    similarity = resolve("similarity_threshold", ss["similarity_threshold"], speaker)
    min_speech = resolve("vad_min_speech", ss["min_speech_fraction"], speaker)
    vad = VoiceActivity()
    shown = ", ".join(f"{k} {t:.2f}" for k, t in zip(sound.labels, threshold))
    print(f"sound: window {sp['window_s']} s, hop {sp['hop_s']} s, thresholds {shown}"
          f"; speaker: window {ss['window_s']} s, hop {ss['hop_s']} s, similarity "
          f"{similarity:.3f}, speech fraction {min_speech:.2f}", flush=True)

    # Ten strangers enrolled, so that a name on non-speech is possible at all.
    so = data.select(data.from_speechocean762(DATA / "speechocean762"), split="test")
    enrolled = sorted({i.speaker for i in so})[-10:]
    gallery = Gallery(Path(tempfile.mkdtemp()) / "speakers.json", "bench")
    for name in enrolled:
        clips = [i for i in so if i.speaker == name][-3:]
        gallery.enroll(name, voice_embedding(speaker, vad, np.concatenate(
            [load_audio(i.path) for i in clips]), RATE, ss["window_s"], min_speech)[0])

    rows, totals = [], {}
    for name, (kind, audio) in streams(rng).items():
        s = sound_figures(sound, threshold, sp["window_s"], sp["hop_s"], sp["top_k"],
                          kind, audio)
        v = speaker_figures(speaker, gallery, vad, min_speech, similarity, ss["window_s"],
                            ss["hop_s"], kind, audio)
        rows.append((name, kind, len(audio) / RATE / 60, s, v))
        print(f"{name}: {s} {v}", flush=True)
        totals.setdefault(kind, []).append((len(audio), s, v))

    print("\n| stream | kind | minutes | false events / min | said | speech reported | gate passed "
          "| speaker names / min |\n|---|---|---|---|---|---|---|---|")
    for name, kind, minutes, s, v in rows:
        said = ", ".join(f"{k} {n}" for k, n in s["said"].items()) or "-"
        print(f"| {name} | {kind} | {minutes:.1f} | {s['false events / min']:.2f} | {said} | "
              f"{s.get('speech reported', float('nan')):.3f} | {v['gate passed']:.3f} | "
              f"{v.get('speaker names / min', float('nan')):.2f} |")
    for kind, entries in totals.items():
        weight = np.array([n for n, _, _ in entries], dtype=float)
        def mean(values, weight=weight):
            return np.average(values, weights=weight)

        line = f"{kind}: false events / min {mean([s['false events / min'] for _, s, _ in entries]):.2f}"
        if kind == "speech":
            line += (f", speech reported {mean([s['speech reported'] for _, s, _ in entries]):.3f}"
                     f", gate passed {mean([v['gate passed'] for _, _, v in entries]):.3f}")
        else:
            line += f", speaker names / min {mean([v['speaker names / min'] for _, _, v in entries]):.2f}"
        print(line)

    event_recall(sound, threshold, sp["window_s"], sp["hop_s"], sp["top_k"])
    audio = rng.standard_normal(RATE * 10).astype(np.float32) * 0.1
    started = time.perf_counter()
    for w in windows(audio, round(ss["window_s"] * RATE), round(ss["hop_s"] * RATE)):
        vad.speech_fraction(w)
    spent = (time.perf_counter() - started) * 1000
    print(f"gate cost: {spent / 10:.1f} ms per second of audio at window {ss['window_s']} s, hop "
          f"{ss['hop_s']} s ({spent / 10 * ss['hop_s'] / ss['window_s']:.1f} ms per second of "
          f"audio scored once), one thread")
    return 0


if __name__ == "__main__":
    sys.exit(main())
