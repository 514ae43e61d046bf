"""Operating points chosen on validation data and stored in the checkpoint's meta
(runtime/operating_points.py): the event threshold of a sound-event model and the speech share of
the voice-activity gate. Never run this on the data a model's figures are reported on.
"""
from __future__ import annotations

import numpy as np
import torch

from ..runtime.checkpoint import atomic_save, load_checkpoint
from ..runtime.events import BACKGROUND, SPEECH, wrong_score
from ..runtime.gates import VoiceGate
from ..runtime.stream import window_hop_samples, windows  # noqa: F401 (windows: re-exported)
from ..runtime.vad import VoiceActivity

GRID = np.round(np.arange(0.30, 1.0, 0.01), 2)


@torch.inference_mode()
def window_probabilities(classifier, wave: np.ndarray, window_s: float, hop_s: float) -> np.ndarray:
    rate = classifier.sample_rate
    batch = windows(wave, *window_hop_samples(window_s, hop_s, rate))
    return classifier.probabilities(torch.from_numpy(batch))  # (W, C)


def scored_clips(classifier, clips: list[tuple[np.ndarray, str]], window_s: float,
                 hop_s: float) -> list[tuple[np.ndarray, str]]:
    """(each clip's window probabilities (W, C), its label): what both threshold choices read,
    so that choosing both scores every clip once."""
    return [(window_probabilities(classifier, wave, window_s, hop_s), label) for wave, label in clips]


def event_threshold(classifier, clips: list[tuple[np.ndarray, str]], window_s: float,
                    hop_s: float, max_false_per_min: float = 0.5) -> dict:
    """The lowest threshold at which windows of speech report at most `max_false_per_min`
    events other than speech, and windows of background at most that many events at all."""
    return choose_event_threshold(classifier.labels, scored_clips(classifier, clips, window_s, hop_s),
                                  hop_s, max_false_per_min)


def choose_event_threshold(labels: list[str], scored: list[tuple[np.ndarray, str]], hop_s: float,
                           max_false_per_min: float = 0.5) -> dict:
    """event_threshold of clips already scored (scored_clips)."""
    wrong = {SPEECH: [], BACKGROUND: []}
    right, events = [], []  # per event window: its own class's score, and whether it is best
    for probs, label in scored:
        if label in wrong:
            allowed = {SPEECH} if label == SPEECH else set()
            wrong[label] += [wrong_score(p, labels, allowed) for p in probs]
        else:
            index = labels.index(label)
            right += [p[index] for p in probs]
            events += [int(np.argmax(p)) == index for p in probs]
    per_min = 60.0 / hop_s
    chosen = next((float(t) for t in GRID
                   if all(np.mean(np.asarray(w) >= t) * per_min <= max_false_per_min
                          for w in wrong.values() if w)), float(GRID[-1]))
    recall = float(np.mean(np.asarray(events) & (np.asarray(right) >= chosen))) if events else 0.0
    return {"event_threshold": chosen,
            "false_per_min": {k: float(np.mean(np.asarray(w) >= chosen) * per_min)
                              for k, w in wrong.items() if w},
            "event_window_recall": recall}


def event_thresholds(classifier, clips: list[tuple[np.ndarray, str]], window_s: float,
                     hop_s: float, max_false_per_min: float = 0.5, floor: float = 0.5) -> dict:
    """One threshold per class: the lowest (not under `floor`) at which that class is reported
    in at most `max_false_per_min` / (number of classes) windows a minute of validation speech
    (other than `speech` itself) and of validation background, so that all classes together
    stay within `max_false_per_min`; a dog is not held to what the noisiest class needs. With
    each, its window recall on the validation events (best class and over its threshold)."""
    return choose_event_thresholds(classifier.labels,
                                   scored_clips(classifier, clips, window_s, hop_s), hop_s,
                                   max_false_per_min, floor)


def choose_event_thresholds(labels: list[str], scored: list[tuple[np.ndarray, str]], hop_s: float,
                            max_false_per_min: float = 0.5, floor: float = 0.5) -> dict:
    """event_thresholds of clips already scored (scored_clips)."""
    negatives = {SPEECH: [], BACKGROUND: []}
    events: dict[str, list[np.ndarray]] = {}
    for probs, label in scored:
        (negatives[label] if label in negatives else events.setdefault(label, [])).append(probs)
    reportable = [k for k, label in enumerate(labels) if label != BACKGROUND]
    background = labels.index(BACKGROUND) if BACKGROUND in labels else -1
    budget = max_false_per_min / len(reportable) * hop_s / 60  # a share of windows
    chosen, recall, false = {}, {}, {}
    for k in reportable:
        scores = []  # per negative window: the score at which class k would be reported there
        for kind, runs in negatives.items():
            if labels[k] == SPEECH and kind == SPEECH:
                continue
            for probs in runs:  # a window whose best class is background reports nothing
                scores += list(np.where(probs.argmax(1) == background, 0.0, probs[:, k]))
        scores = np.asarray(scores)
        t = next((float(t) for t in GRID if t >= floor and np.mean(scores >= t) <= budget),
                 float(GRID[-1]))
        chosen[labels[k]] = t
        false[labels[k]] = float(np.mean(scores >= t) * 60 / hop_s) if len(scores) else 0.0
        if labels[k] in events:
            probs = np.concatenate(events[labels[k]])
            recall[labels[k]] = float(np.mean((probs.argmax(1) == k) & (probs[:, k] >= t)))
    return {"event_thresholds": chosen, "false_per_min": false, "event_window_recall": recall}


def vad_min_speech(vad: VoiceActivity, speech: list[np.ndarray], other: list[np.ndarray],
                   window_s: float, hop_s: float, min_recall: float = 0.98) -> dict:
    """The largest share of speech frames that still lets `min_recall` of speech windows
    through; with it, the share of non-speech windows that pass."""
    window, hop = window_hop_samples(window_s, hop_s, vad.sample_rate)
    gate = VoiceGate(vad, 0.0)  # the node's gate: each window's share of speech frames

    def fractions(waves):
        return np.asarray([gate.window(w, vad.sample_rate)[1] for wave in waves
                           for w in windows(wave, window, hop)])

    on_speech, on_other = fractions(speech), fractions(other)
    grid = np.round(np.arange(0.05, 0.95, 0.05), 2)
    chosen = max((float(f) for f in grid if np.mean(on_speech >= f) >= min_recall),
                 default=float(grid[0]))
    return {"vad_min_speech": chosen, "speech_windows_passed": float(np.mean(on_speech >= chosen)),
            "other_windows_passed": float(np.mean(on_other >= chosen)),
            "windows": {"speech": int(len(on_speech)), "other": int(len(on_other))}}


def store(path: str, values: dict, record: dict) -> None:
    """Write operating points into a checkpoint's meta, with how they were chosen."""
    data = load_checkpoint(path)
    data["meta"] = {**data["meta"], **values,
                    "calibration": {**data["meta"].get("calibration", {}), **record}}
    atomic_save(data, path)
