"""Where is it? Direction of arrival (degram_core.runtime.direction) on rooms simulated with
pyroomacoustics, against plain SRP-PHAT on every window.

    python bench/direction.py                       # validation, then test figures
    python bench/direction.py --beam                # does a beam help the sound model?
    python bench/direction.py --figure docs/direction.png

Scenes of 8 s: a room (4 x 3.5, 6 x 5 or 9 x 7 m; RT60 0.2-0.7 s), an array (ReSpeaker 4-mic,
USB 4-mic, 6-mic, Azure Kinect, MATRIX Voice: 4-8 mics) about 1 m up, a source 1-3 m away at
any azimuth and 1.0-1.8 m up: speech (speechocean762 test-split utterances) or an event (an
ESC-10 clip), and spatially uncorrelated noise (a noise recording, a different stretch on
each mic) at 0-25 dB SNR. Two-source scenes add the other kind 6-10 dB weaker, at least 30
degrees away, overlapping in time. Validation scenes (seed 1; ESC-10 folds 1-2, the first
half of the test speakers, the first 70 % of each noise recording) choose the confidence
threshold; test scenes (seed 2; folds 3-5, the other speakers, the last 30 %) are reported.

Per 1 s window (hop 0.5 s), a window "has" a source when a quarter of its 32 ms frames hold
the dry source within 25 dB of its loud frames. Plain SRP-PHAT searches every frame of every
window (300-4000 Hz) and always answers. degram searches the frames of what was heard: a
voice's speech frames (Silero VAD on the channel mean), an event's loud frames (6 dB over the
scene's 10th-percentile frame level) that are not speech, and answers only above its
confidence. Figures: median azimuth error of the directions given, the share of them within
15 degrees, the share of windows with the source that get one; cost per hop at 4 channels,
one thread.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from degram_core.runtime.audio import load_audio  # noqa: E402
from degram_core.runtime.direction import (FLOOR_PERCENTILE, Direction, Locator,  # noqa: E402
                                   frame_levels, geometry, heard_frames, loud_frames)
from degram_core.runtime.vad import FRAME, SPEECH_PROBABILITY, VoiceActivity  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
RATE = 16000
SIZES = [(4.0, 3.5, 2.6), (6.0, 5.0, 3.0), (9.0, 7.0, 3.2)]
ARRAYS = ["respeaker_4mic", "respeaker_usb_4mic", "respeaker_6mic", "azure_kinect", "matrix_voice"]
NOISES = ["pink_noise", "white_noise", "running_tap", "exercise_bike", "doing_the_dishes"]
SCENE_S, WINDOW_S, HOP_S = 8.0, 1.0, 0.5
HAS_SOURCE = 0.25  # share of a window's frames the source must fill
ACTIVE_DB = 25.0  # a dry frame within this of the source's loud frames is active
WITHIN = 15.0  # degrees
TAIL_FRAMES = 24  # a window is silent only if no source played in it or the 0.77 s before


@dataclass
class Scene:
    audio: np.ndarray  # (M, N) at the mics
    array: str
    rt60: float
    snr_db: float
    kinds: list[str]  # "speech" / "event", main first
    azimuths: list[float]  # degrees, true, main first
    active: list[np.ndarray]  # per source: (N // 512,) frames that hold it
    labels: list[str]  # per source: "speech" or the event's ESC-10 category
    present: list[np.ndarray]  # per source: frames where it plays at all (not digital zero)


class Clips:
    """The real recordings a split draws from."""

    def __init__(self, split: str):
        validation = split == "validation"
        with open(DATA / "speechocean762" / "meta.csv") as f:
            rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
        speakers = sorted({r["speaker"] for r in rows})
        half = set(speakers[:len(speakers) // 2] if validation else speakers[len(speakers) // 2:])
        self.speech = [DATA / "speechocean762" / r["file"] for r in rows if r["speaker"] in half]
        with open(DATA / "esc10" / "meta" / "esc10.csv") as f:
            folds = {"1", "2"} if validation else {"3", "4", "5"}
            self.events = [(DATA / "esc10" / "audio" / r["filename"], r["category"])
                           for r in csv.DictReader(f) if r["fold"] in folds]
        self.noise = {}
        for name in NOISES:
            wave = load_audio(DATA / "noise" / f"{name}.flac")
            cut = int(0.7 * len(wave))
            self.noise[name] = wave[:cut] if validation else wave[cut:]

    def speech_signal(self, rng, length: int) -> np.ndarray:
        parts = []
        while sum(map(len, parts)) < length:
            parts.append(load_audio(self.speech[rng.integers(len(self.speech))]))
            parts.append(np.zeros(int(rng.uniform(0.3, 1.2) * RATE), dtype=np.float32))
        return np.concatenate(parts)

    def event_signal(self, rng, category: str | None = None) -> tuple[np.ndarray, str]:
        events = [e for e in self.events if category in (None, e[1])]
        path, label = events[rng.integers(len(events))]
        return load_audio(path), label


def place(signal: np.ndarray, start: int, length: int) -> np.ndarray:
    out = np.zeros(length, dtype=np.float64)
    piece = signal[:max(0, length - start)]
    out[start:start + len(piece)] = piece
    return out


def dry_activity(dry: np.ndarray) -> np.ndarray:
    levels = frame_levels(dry[None])
    loud = np.percentile(levels[levels > -100], 95) if (levels > -100).any() else 0.0
    return levels > loud - ACTIVE_DB


def make_scene(rng: np.random.Generator, clips: Clips, two: bool, array: str | None = None,
               rt60: float | None = None, snr_db: float | None = None,
               kinds: list[str] | None = None, azimuths: list[float] | None = None,
               scene_s: float = SCENE_S, event: str | None = None,
               noise_at: float | None = None) -> Scene:
    """A random scene (the arguments fix parts of it). event: the ESC-10 category of an event
    source. noise_at: the noise is a source in the room at this azimuth (degrees) instead
    of uncorrelated at the mics."""
    import pyroomacoustics as pra

    length = int(scene_s * RATE)
    size = np.array(SIZES[rng.integers(len(SIZES))])
    rt60 = rt60 if rt60 is not None else float(rng.uniform(0.2, 0.7))
    snr_db = snr_db if snr_db is not None else float(rng.uniform(0, 25))
    array = array or ARRAYS[rng.integers(len(ARRAYS))]
    geom = geometry(array)
    kinds = kinds or (["speech", "event"] if rng.random() < 0.5 else ["event", "speech"])
    kinds = kinds[:2 if two else 1]
    absorption, order = pra.inverse_sabine(rt60, size)
    room = pra.ShoeBox(size, fs=RATE, materials=pra.Material(absorption), max_order=order)
    centre = np.array([rng.uniform(1.0, size[0] - 1.0), rng.uniform(1.0, size[1] - 1.0),
                       rng.uniform(0.8, 1.2)])
    if azimuths is not None or noise_at is not None:  # any azimuth must fit in the room
        centre[:2] = size[:2] / 2 + rng.uniform(-0.25, 0.25, 2)
    truth, labels = [], []
    for k, kind in enumerate(kinds + (["noise"] if noise_at is not None else [])):
        for _ in range(1000):
            if kind == "noise":
                azimuth = noise_at
            elif azimuths is not None:
                azimuth = azimuths[k]
            else:
                azimuth = rng.uniform(-180, 180)
                if k and abs((azimuth - truth[0] + 180) % 360 - 180) < 30:
                    continue
            distance = rng.uniform(1.0, 3.0)
            a = np.deg2rad(azimuth)
            position = centre + [distance * np.cos(a), distance * np.sin(a), 0.0]
            position[2] = rng.uniform(1.0, 1.8)
            if np.all(position[:2] > 0.3) and np.all(position[:2] < size[:2] - 0.3):
                break
        else:
            raise RuntimeError("no place for a source")
        if kind == "noise":
            bed = clips.noise[NOISES[rng.integers(len(NOISES))]]
            offset = rng.integers(0, len(bed) - length)
            room.add_source(position, signal=bed[offset:offset + length].astype(np.float64))
            continue
        start = int(rng.uniform(0.5, 2.0) * RATE)
        if kind == "speech":
            signal, label = clips.speech_signal(rng, length), "speech"
        else:
            signal, label = clips.event_signal(rng, event)
        room.add_source(position, signal=place(signal, start, length))
        truth.append(float(np.rad2deg(np.arctan2(*(position - centre)[1::-1]))))
        labels.append(label)
    room.add_microphone_array(centre[:, None] + geom.positions.T)
    premix = room.simulate(return_premix=True)[..., :length]  # (S, M, N)
    dry = [room.sources[k].signal[:length] for k in range(len(kinds))]
    active = [dry_activity(d) for d in dry]
    present = [np.abs(d[:len(a) * FRAME]).reshape(-1, FRAME).max(axis=1) > 0
               for d, a in zip(dry, active)]

    def power(k):  # of source k at the mics over its active frames
        frames = premix[k][:, :len(active[k]) * FRAME].reshape(premix.shape[1], -1, FRAME)
        return float(np.mean(frames[:, active[k]] ** 2)) + 1e-20

    gain = [1.0 / np.sqrt(power(0))]
    if two:
        gap = rng.uniform(6.0, 10.0)
        gain.append(10 ** (-gap / 20) / np.sqrt(power(1)))
    audio = sum(g * p for g, p in zip(gain, premix))
    if noise_at is None:
        bed = clips.noise[NOISES[rng.integers(len(NOISES))]]
        noise = np.stack([bed[s:s + length]
                          for s in rng.integers(0, len(bed) - length, len(audio))])
    else:  # the room's noise source, and the mics' own hiss 30 dB under it
        noise = premix[-1] / np.sqrt(np.mean(premix[-1] ** 2))
        noise = noise + 10 ** (-30 / 20) * rng.standard_normal(noise.shape)
    noise = noise / np.sqrt(np.mean(noise ** 2)) * 10 ** (-snr_db / 20)
    audio = (audio + noise) * 0.05  # a comfortable level in [-1, 1]
    return Scene(audio.astype(np.float32), array, rt60, snr_db, kinds, truth, active, labels,
                 present)


def plain_srp_phat(geom) -> Locator:
    """The baseline: pyroomacoustics' SRP-PHAT on every frame of every window, 300-4000 Hz."""
    return Locator(geom, method="SRP", min_frames=0, min_confidence=-np.inf, contrast_db=None)


def error_deg(estimate_rad: float, truth_deg: float) -> float:
    return abs((np.rad2deg(estimate_rad) - truth_deg + 180) % 360 - 180)


def masks(window: np.ndarray, vad: VoiceActivity, floor_db: float) -> dict[str, np.ndarray]:
    """What was heard in one window: speech frames, and the event's loud non-speech frames."""
    return heard_frames(vad.frames(window.mean(axis=0)) > SPEECH_PROBABILITY,
                        loud_frames(window, floor_db))


@dataclass
class WindowResult:
    source: int | None  # which of the scene's sources the window has (main first), None: none
    kind: str | None
    truth: float
    baseline: float  # error, degrees
    ours: float | None  # error, None: no direction
    confidence: float | None  # of the direction given; in a window without a source, the
                              # highest of the voice's, the event's and every frame's


def heard_masks(scene: Scene, vad: VoiceActivity) -> list[dict[str, np.ndarray]]:
    """Each window's masks (the same whichever locator runs)."""
    window, hop = int(WINDOW_S * RATE), int(HOP_S * RATE)
    floor = float(np.percentile(frame_levels(scene.audio), FLOOR_PERCENTILE))
    return [masks(scene.audio[:, start:start + window], vad, floor)
            for start in range(0, scene.audio.shape[1] - window + 1, hop)]


def run_scene(scene: Scene, heard: list[dict[str, np.ndarray]], baseline: Locator,
              ours: Locator) -> list[WindowResult]:
    window, hop = int(WINDOW_S * RATE), int(HOP_S * RATE)
    results = []
    for start, masks_now in zip(range(0, scene.audio.shape[1] - window + 1, hop), heard):
        chunk = scene.audio[:, start:start + window]
        frames = slice(start // FRAME, start // FRAME + window // FRAME)
        has = [a[frames].mean() >= HAS_SOURCE for a in scene.active]
        tail = slice(max(0, frames.start - TAIL_FRAMES), frames.stop)
        if not any(has) and not any(p[tail].any() for p in scene.present):
            # the voice's frames, the event's, and every frame (a gate that lets all through)
            found = [ours.locate(chunk, active).direction
                     for active in (masks_now["speech"], masks_now["event"], None)]
            confidences = [d.confidence for d in found if d is not None]
            results.append(WindowResult(None, None, np.nan, np.nan, None,
                                        max(confidences) if confidences else None))
            continue
        if not any(has):
            continue  # a little of a source, or its reverberation: neither with nor without
        k = has.index(True)  # the main source when it sounds, else the second
        truth = scene.azimuths[k]
        plain = baseline.locate(chunk).direction
        if len(scene.kinds) == 1:
            found = ours.locate(chunk, masks_now[scene.kinds[k]])
        else:
            found = ours.locate_sources(chunk, [masks_now[kind] for kind in scene.kinds])[k]
        d = found.direction
        results.append(WindowResult(k, scene.kinds[k], truth, error_deg(plain.azimuth, truth),
                                    None if d is None else error_deg(d.azimuth, truth),
                                    None if d is None else d.confidence))
    return results


def summary(rows: list[WindowResult], min_confidence: float) -> dict[str, float]:
    given = [r.ours for r in rows if r.ours is not None and r.confidence >= min_confidence]
    base = [r.baseline for r in rows]
    return {"windows": len(rows),
            "baseline_median": float(np.median(base)) if base else np.nan,
            "baseline_within": float(np.mean(np.array(base) <= WITHIN)) if base else np.nan,
            "median": float(np.median(given)) if given else np.nan,
            "within": float(np.mean(np.array(given) <= WITHIN)) if given else np.nan,
            "given": len(given) / max(1, len(rows))}


Variant = tuple[str, float | None]  # DOA method, contrast_db


def collect(split: str, scenes: int, seed: int, two: bool,
            variants: list[Variant]) -> dict[Variant, list[tuple[Scene, list[WindowResult]]]]:
    """Scenes drawn once, each variant of the locator run on the same ones."""
    rng = np.random.default_rng(seed)
    clips = Clips(split)
    vad = VoiceActivity()
    out = {variant: [] for variant in variants}
    locators = {}
    for _ in range(scenes):
        scene = make_scene(rng, clips, two)
        heard = heard_masks(scene, vad)
        geom = geometry(scene.array)
        baseline = plain_srp_phat(geom)
        for method, contrast in variants:
            key = (scene.array, method, contrast)
            if key not in locators:
                locators[key] = Locator(geom, method=method, min_confidence=-np.inf,
                                        contrast_db=contrast)
            out[method, contrast].append((scene, run_scene(scene, heard, baseline, locators[key])))
    return out


def target(scene: Scene) -> bool:
    """The issue's conditions for its targets: RT60 up to 0.5 s, SNR at least 10 dB."""
    return scene.rt60 <= 0.5 and scene.snr_db >= 10


def rows_of(results, keep=lambda s: True, source: int | None = 0):
    return [r for s, rs in results if keep(s) for r in rs
            if r.source is not None and (source is None or r.source == source)]


def choose(one: dict, two: dict, precision: float = 0.95) -> tuple[Variant, float]:
    """On validation: for each variant the lowest confidence at which the directions given are
    within 15 degrees at least `precision` of the time (a margin over the issue's 90 %) in
    one-source and in two-source scenes (the main source) of the target conditions, and
    windows without any source get none; then the variant that gives a direction in the most
    windows at its threshold. Windows without a source must get no direction even when all
    their frames are searched, so that the threshold holds where a gate lets noise through."""
    best = None
    for variant in one:
        rows = [rows_of(one[variant], target), rows_of(two[variant], target)]
        silent = [r for _, rs in one[variant] + two[variant] for r in rs if r.source is None]
        for threshold in np.arange(0.0, 1.0, 0.01):
            figures = [summary(r, threshold) for r in rows]
            if all(f["within"] >= precision for f in figures) and not any(
                    r.confidence is not None and r.confidence >= threshold for r in silent):
                given = sum(f["given"] for f in figures)
                print(f"  {variant[0]}, contrast_db {variant[1]}: min_confidence "
                      f"{threshold:.2f}, within 15 deg {100 * figures[0]['within']:.0f} % / "
                      f"{100 * figures[1]['within']:.0f} %, given a direction "
                      f"{100 * figures[0]['given']:.0f} % / {100 * figures[1]['given']:.0f} % "
                      f"(one source / two)")
                if best is None or given > best[0]:
                    best = (given, variant, float(round(threshold, 2)))
                break
    return best[1], best[2]


def line(name: str, s: dict[str, float]) -> str:
    return (f"| {name} | {s['windows']} | {s['baseline_median']:.1f} | {100 * s['baseline_within']:.0f} % "
            f"| {s['median']:.1f} | {100 * s['within']:.0f} % | {100 * s['given']:.0f} % |")


def cost_ms(method: str, contrast: float | None) -> float:
    """Median CPU ms (this thread's, so other work on the machine does not count) of one hop
    at 4 channels: a 1 s window's direction from 20 of its 31 frames (the search; the voice
    gate runs for the speaker model anyway)."""
    geom = geometry("respeaker_4mic")
    locator = Locator(geom, method=method, contrast_db=contrast)
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((4, RATE)).astype(np.float32)
    active = np.zeros(RATE // FRAME, dtype=bool)
    active[::2] = True
    active[:16] = True
    times = []
    for _ in range(110):
        t = time.thread_time()
        locator.locate(audio, active)
        times.append(time.thread_time() - t)
    return 1000 * float(np.median(times[10:]))


def report(args) -> None:
    header = ("| scenes | windows | plain SRP-PHAT median | within 15 deg | degram median "
              "| within 15 deg | given a direction |\n|---|---|---|---|---|---|---|")
    t = time.perf_counter()
    variants = [(m, c) for m in args.methods.split(",") for c in (None, 3.0)]
    val_one = collect("validation", args.validation, 1, False, variants)
    val_two = collect("validation", args.validation, 11, True, variants)
    print(f"validation ({args.validation} one-source and {args.validation} two-source scenes):")
    (method, contrast), threshold = choose(val_one, val_two)
    print(f"chosen: {method}, contrast_db {contrast}, min_confidence {threshold:.2f}")
    print(header)
    print(line("validation, one source, RT60 <= 0.5 s, SNR >= 10 dB",
               summary(rows_of(val_one[method, contrast], target), threshold)))
    print(line("validation, two sources: the main one, RT60 <= 0.5 s, SNR >= 10 dB",
               summary(rows_of(val_two[method, contrast], target), threshold)))
    one = collect("test", args.scenes, 2, False, [(method, contrast)])[method, contrast]
    two = collect("test", args.scenes, 3, True, [(method, contrast)])[method, contrast]
    print(f"\ntest ({args.scenes} one-source and {args.scenes} two-source scenes), {method}, "
          f"contrast_db {contrast}, min_confidence {threshold:.2f}")
    print(header)
    print(line("one source, RT60 <= 0.5 s, SNR >= 10 dB", summary(rows_of(one, target), threshold)))
    print(line("one source, all (RT60 0.2-0.7 s, SNR 0-25 dB)", summary(rows_of(one), threshold)))
    for kind in ("speech", "event"):
        rows = [r for r in rows_of(one, target) if r.kind == kind]
        print(line(f"one source, {kind}, RT60 <= 0.5 s, SNR >= 10 dB", summary(rows, threshold)))
    print(line("two sources: the main one, RT60 <= 0.5 s, SNR >= 10 dB",
               summary(rows_of(two, target), threshold)))
    print(line("two sources: the main one, all", summary(rows_of(two), threshold)))
    print(line("two sources: the weaker one (its own windows), all",
               summary(rows_of(two, source=1), threshold)))
    for array in ARRAYS:
        print(line(f"one source, {array}, all",
                   summary(rows_of(one, lambda s: s.array == array), threshold)))
    silent = [r for _, rs in one + two for r in rs if r.source is None]
    wrong = sum(r.confidence is not None and r.confidence >= threshold for r in silent)
    print(f"\nwindows without any source given a direction anyway (from the voice's, the "
          f"event's or all frames): {wrong} of {len(silent)}")
    print(f"cost per hop, 4 channels, one thread: {cost_ms(method, contrast):.2f} ms CPU "
          f"(bench wall time {time.perf_counter() - t:.0f} s)")


def beam_measurement(scenes: int) -> None:
    """Does the sound model hear an event better through a delay-and-sum beam than through the
    channel mean, at low SNR? ESC-10 fold 5 (the shipped model's test fold), one event per
    scene, the 2 s window (the node's) around its loudest second, scored by
    models/sound_events.pt: the true class's probability and the share of windows whose best
    class is the true one, for the mean, the beam towards the direction found (the window's
    loud frames) and the beam towards the true direction."""
    from degram_core.runtime.classifier import Classifier

    model = Classifier(ROOT / "models" / "sound_events.pt", device="cpu")
    clips = Clips("test")
    clips.events = [e for e in clips.events if e[0].name.startswith("5-")]
    rng = np.random.default_rng(5)
    print("| noise | SNR | mics | windows | mean: p(true) | top-1 | beam (found): p(true) | top-1 "
          "| beam (true direction): p(true) | top-1 |\n|---|---|---|---|---|---|---|---|---|---|")
    pooled = {}
    for noise in ("a noise source in the room", "uncorrelated at the mics"):
        pooled[noise] = {"mean": [], "found": [], "true": []}
        for snr_db in (-5.0, 0.0, 5.0):
            for array in ("respeaker_4mic", "respeaker_6mic"):
                locator = Locator(geometry(array))
                scores = {"mean": [], "found": [], "true": []}
                for _ in range(scenes):
                    azimuth = float(rng.uniform(-180, 180))
                    scene = make_scene(rng, clips, False, array=array,
                                       rt60=float(rng.uniform(0.3, 0.6)), snr_db=snr_db,
                                       kinds=["event"], azimuths=[azimuth],
                                       noise_at=(azimuth + rng.uniform(60, 300))
                                       if noise.startswith("a noise") else None)
                    dry = scene.active[0]
                    loudest = int(np.argmax(np.convolve(dry, np.ones(31), "same")))
                    start = int(np.clip(loudest * FRAME - RATE, 0, scene.audio.shape[1] - 2 * RATE))
                    chunk = scene.audio[:, start:start + 2 * RATE]
                    floor = float(np.percentile(frame_levels(scene.audio), FLOOR_PERCENTILE))
                    found = locator.locate(chunk, loud_frames(chunk, floor)).direction
                    truth = Direction(np.deg2rad(scene.azimuths[0]), 0.0, 1.0)
                    true_class = model.labels.index(scene.labels[0])
                    for name, toward in (("mean", None), ("found", found), ("true", truth)):
                        probs = model.predict(locator.beam(chunk, toward), RATE).probs
                        scores[name].append((probs[true_class], np.argmax(probs) == true_class))
                row = [f"{np.mean([p for p, _ in v]):.2f} | {100 * np.mean([c for _, c in v]):.0f} %"
                       for v in scores.values()]
                print(f"| {noise} | {snr_db:+.0f} dB | {geometry(array).count} | {scenes} | "
                      + " | ".join(row) + " |", flush=True)
                for name, values in scores.items():
                    pooled[noise][name] += values
    print("\nPooled over SNR and arrays, paired window by window against the mean:")
    for noise, scores in pooled.items():
        mean_p, mean_right = (np.array(v) for v in zip(*scores["mean"]))
        for name in ("found", "true"):
            p, right = (np.array(v) for v in zip(*scores[name]))
            gain = p - mean_p
            print(f"  {noise}, beam ({name} direction): p(true) {np.mean(gain):+.3f} "
                  f"+- {np.std(gain, ddof=1) / np.sqrt(len(gain)):.3f} (standard error, "
                  f"{len(gain)} windows); top-1 right only with the beam "
                  f"{int(np.sum(right & ~mean_right))}, only with the mean "
                  f"{int(np.sum(mean_right & ~right))}")


def figure(path: Path) -> None:
    """A dog at -45 degrees and a voice 6-10 dB under it at +60 around a ReSpeaker 4-mic array
    (RT60 0.4 s, SNR 15 dB): each window's two directions, the voice's from its speech frames
    and the event's from its loud non-speech frames (Locator.locate_sources), beside plain
    SRP-PHAT, with the shipped sound model's event for each window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from degram_core.runtime.classifier import Classifier
    from degram_core.runtime.events import reported
    from degram_core.runtime.operating_points import event_thresholds

    rng = np.random.default_rng(7)
    scene = make_scene(rng, Clips("test"), True, array="respeaker_4mic", rt60=0.4, snr_db=15.0,
                       kinds=["event", "speech"], azimuths=[-45.0, 60.0], scene_s=12.0,
                       event="dog")
    geom = geometry(scene.array)
    locator, plain = Locator(geom), plain_srp_phat(geom)
    model = Classifier(ROOT / "models" / "sound_events.pt", device="cpu")
    threshold = event_thresholds(model.labels, None, model)
    vad = VoiceActivity()
    floor = float(np.percentile(frame_levels(scene.audio), FLOOR_PERCENTILE))
    window, hop = int(WINDOW_S * RATE), int(HOP_S * RATE)
    points = {"plain": [], "speech": [], "event": []}
    labels = []
    for start in range(0, scene.audio.shape[1] - window + 1, hop):
        chunk, middle = scene.audio[:, start:start + window], (start + window / 2) / RATE
        heard = masks(chunk, vad, floor)
        points["plain"].append((middle, np.rad2deg(plain.locate(chunk).direction.azimuth)))
        for kind, found in zip(("speech", "event"),
                               locator.locate_sources(chunk, [heard["speech"], heard["event"]])):
            if found.direction is not None:
                points[kind].append((middle, np.rad2deg(found.direction.azimuth)))
        events = reported(model.predict(chunk.mean(axis=0), RATE).probs, model.labels,
                          threshold, 1)
        labels.append((middle, model.labels[events[0][0]] if events else "-"))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.4]})
    top.scatter(*zip(*points["plain"]), marker="x", color="0.6",
                label="plain SRP-PHAT, every frame of every window")
    top.scatter(*zip(*points["speech"]), s=40, color="tab:blue",
                label="degram, the window's speech frames")
    top.scatter(*zip(*points["event"]), s=40, color="tab:orange",
                label="degram, the window's loud non-speech frames")
    for azimuth, what in zip(scene.azimuths, ("dog", "voice")):
        top.axhline(azimuth, ls="--", lw=1, color="k")
        top.text(0.1, azimuth + 4, f"{what} at {azimuth:+.0f} deg", fontsize=8)
    top.set_ylim(-180, 180)
    top.set_yticks(range(-180, 181, 45))
    top.set_ylabel("azimuth (deg, CCW from +x)")
    top.legend(loc="lower right", fontsize=8)
    frames = np.arange(len(scene.active[0])) * FRAME / RATE
    for row, (active, what, colour) in enumerate(zip(scene.active, ("dog", "voice"),
                                                     ("tab:orange", "tab:blue"))):
        bottom.fill_between(frames, row, row + 0.8 * active, step="post", color=colour,
                            alpha=0.7)
        bottom.text(-0.1, row + 0.3, what, ha="right", fontsize=8)
    for middle, label in labels:
        bottom.text(middle, 2.0, label, rotation=90, ha="center", va="bottom", fontsize=6)
    bottom.set_ylim(0, 3.2)
    bottom.set_yticks([])
    bottom.set_xlabel("time (s); above the bars, the sound model's event for each 1 s window")
    fig.suptitle("A dog and a voice 6-10 dB under it: ReSpeaker 4-mic, RT60 0.4 s, SNR 15 dB")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=60, help="test scenes of each kind")
    parser.add_argument("--validation", type=int, default=40,
                        help="validation scenes of each kind")
    parser.add_argument("--methods", default="SRP,NormMUSIC",
                        help="DOA methods validation chooses from")
    parser.add_argument("--beam", action="store_true",
                        help="the beamformer measurement instead (--scenes per row)")
    parser.add_argument("--figure", type=Path, help="draw the voice-and-dog scene instead")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.figure:
        figure(args.figure)
    elif args.beam:
        beam_measurement(args.scenes)
    else:
        report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
