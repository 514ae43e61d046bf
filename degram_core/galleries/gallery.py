"""Open-set, few-shot speaker enrollment: a gallery of speakers, one centroid each.

A speaker is the mean of the L2-normalised embeddings of its enrolled clips, re-normalised
(the centroid); a clip is identified by cosine similarity with every centroid, and below a
threshold it is nobody we know ("unknown"). Embeddings come from `Classifier.embed`, so any
checkpoint works, including one never trained on the speakers enrolled.

The gallery is one JSON file, rewritten atomically (temporary file + os.replace) after every
change, so a crash leaves the old gallery or the new one, never half of one. It records which
model made its embeddings: embeddings of another model live in another space, and comparing
them would give confident nonsense, so such a gallery is refused rather than used.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..runtime.audio import resample
from ..runtime.files import atomic_write
from ..runtime.vad import DEFAULT_MIN_SPEECH, FRAME, SPEECH_PROBABILITY
from ..runtime.checks import Refused, check_name
from ..scoring.verification import tnorm

FORMAT = "degram-gallery"
VERSION = 1
UNKNOWN = "unknown"
# Cosine similarity below which a clip is nobody enrolled. Measured with bench/enroll_fsdd.py
# (README, "Speaker enrollment"): on the shipped model's recipe trained without the stranger,
# 0.885 of known clips named right and 0.70 of the stranger's rejected; 0.92 and 0.94 tie on
# the mean over that model and the shipped one. The pooled embeddings are non-negative (ReLU),
# so even a stranger scores ~0.9: the useful range is narrow and each checkpoint, and each
# household, deserves its own sweep.
DEFAULT_THRESHOLD = 0.92


class GalleryError(ValueError):
    """A gallery that cannot be used, or a request it refuses; names the gallery file."""


@dataclass
class Identification:
    name: str  # best speaker, or UNKNOWN below the threshold (or with no speakers)
    score: float  # cosine similarity of the best speaker (0.0 with no speakers)
    candidates: list[tuple[str, float]]  # best first

    @property
    def known(self) -> bool:
        return self.name != UNKNOWN


def checkpoint_identity(path: str | Path) -> str:
    """Names the weights, not just the file: two runs both called best.pt embed differently."""
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{path.name}@sha256:{digest.hexdigest()[:16]}"


def normalised(vector, what: str = "embedding") -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64).reshape(-1)
    if vector.size == 0 or not np.isfinite(vector).all():
        raise ValueError(f"{what} is empty or holds NaN/infinite values")
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise ValueError(f"{what} is all zeros: it has no direction to compare")
    return vector / norm


@dataclass
class Speaker:
    mean: np.ndarray  # mean of the clips' unit embeddings; kept so new clips update it exactly
    clips: int

    @property
    def centroid(self) -> np.ndarray:
        return normalised(self.mean, "centroid")


class Gallery:
    """Enrolled speakers of one model, persisted in `path` (loaded now if it exists).

    `model` names the model whose embeddings are stored (see checkpoint_identity); a file made
    by another model is refused. Thread-safe: the ROS node enrolls from a service callback while
    its worker identifies windows.
    """

    def __init__(self, path: str | Path, model: str):
        self.path = Path(path).expanduser()
        self.model = model
        self.dim: int | None = None
        self.speakers: dict[str, Speaker] = {}
        self.lock = threading.RLock()
        if self.path.exists():
            self._load()

    # --- persistence -------------------------------------------------------------------

    def _error(self, problem: str) -> GalleryError:
        return GalleryError(f"{self.path}: {problem}")

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise self._error(f"not a readable speaker gallery ({type(error).__name__}: "
                              f"{error}); fix or move the file, it is never overwritten "
                              f"silently") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise self._error(f"not a degram speaker gallery (no '{FORMAT}' format tag)")
        if data.get("version") != VERSION:
            raise self._error(f"gallery version {data.get('version')} is not supported "
                              f"(this degram reads version {VERSION})")
        speakers, dim = data.get("speakers"), data.get("embedding_dim")
        if not isinstance(speakers, dict) or not isinstance(dim, int) or dim <= 0:
            raise self._error("gallery lacks 'speakers' or a positive 'embedding_dim'")
        if speakers and data.get("model") != self.model:
            raise self._error(f"gallery was made with model {data.get('model')!r}, not "
                              f"{self.model!r}: its embeddings cannot be compared; enroll again "
                              f"into another gallery file, or use that model")
        loaded = {}
        for name, entry in speakers.items():
            try:
                mean = np.asarray(entry["mean"], dtype=np.float64)
                clips = int(entry["clips"])
            except (KeyError, TypeError, ValueError) as error:
                raise self._error(f"speaker {name!r} is malformed ({error!r})") from None
            if mean.shape != (dim,) or not np.isfinite(mean).all() or clips < 1:
                raise self._error(f"speaker {name!r} is malformed (needs {dim} finite values "
                                  f"and clips >= 1)")
            loaded[name] = Speaker(mean, clips)
        self.speakers = loaded
        self.dim = dim if loaded else None  # an empty gallery adopts whichever model enrolls next

    def _save(self) -> None:
        data = {
            "format": FORMAT, "version": VERSION, "model": self.model, "embedding_dim": self.dim,
            "speakers": {name: {"centroid": s.centroid.tolist(), "mean": s.mean.tolist(),
                                "clips": s.clips}
                         for name, s in sorted(self.speakers.items())},
        }
        text = json.dumps(data, indent=1)
        atomic_write(self.path, lambda f: f.write(text.encode("utf-8")))

    # --- speakers ----------------------------------------------------------------------

    def _check_dim(self, vector: np.ndarray) -> None:
        if self.dim is not None and vector.size != self.dim:
            raise self._error(f"embedding has {vector.size} values, the gallery's speakers "
                              f"have {self.dim} (made with model {self.model!r})")

    def enroll(self, name: str, embeddings) -> int:
        """Add clips (one embedding each, (D,) or (K, D)) to `name`; returns its clip count.

        The gallery file is written before this returns; on a failed write the in-memory
        gallery is left as it was, so memory and file never disagree."""
        try:
            name = check_name(name)
        except Refused as error:
            raise self._error(str(error)) from None
        if name == UNKNOWN:
            raise self._error(f"{UNKNOWN!r} is reserved for speakers not in the gallery")
        rows = np.asarray(embeddings, dtype=np.float64)
        rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
        if rows.ndim != 2 or rows.shape[0] == 0:
            raise self._error(f"enrolling {name!r} needs at least one embedding")
        units = np.stack([normalised(row, f"embedding {i} of {name!r}")
                          for i, row in enumerate(rows)])
        with self.lock:
            self._check_dim(units[0])
            old, old_dim = self.speakers.get(name), self.dim
            total = (old.mean * old.clips if old else 0.0) + units.sum(axis=0)
            clips = (old.clips if old else 0) + len(units)
            self.speakers[name] = Speaker(total / clips, clips)
            self.dim = units.shape[1]
            try:
                self._save()
            except BaseException:
                if old is None:
                    del self.speakers[name]
                else:
                    self.speakers[name] = old
                self.dim = old_dim
                raise
            return clips

    def forget(self, name: str) -> bool:
        """Remove `name`; False if it was not enrolled."""
        with self.lock:
            speaker = self.speakers.pop(name, None)
            if speaker is None:
                return False
            try:
                self._save()
            except BaseException:
                self.speakers[name] = speaker
                raise
            return True

    def names(self) -> list[str]:
        with self.lock:
            return sorted(self.speakers)

    def clips(self, name: str) -> int:
        with self.lock:
            return self.speakers[name].clips

    def __len__(self) -> int:
        with self.lock:
            return len(self.speakers)

    def identify(self, embedding, threshold: float, top_k: int = 3,
                 cohort: np.ndarray | None = None) -> Identification:
        """The most similar speaker by cosine similarity, or UNKNOWN below `threshold`.

        With `cohort`, the clip's cosines with its model's training speakers (what
        Classifier.speaker_vector gives a model that T-normalises), the similarities are
        T-normalised by them (verification.tnorm): the threshold is then in their units."""
        with self.lock:
            if not self.speakers:
                return Identification(UNKNOWN, 0.0, [])
            names = list(self.speakers)
            centroids = np.stack([self.speakers[n].centroid for n in names])
        vector = normalised(embedding)
        self._check_dim(vector)
        scores = centroids @ vector
        if cohort is not None:
            scores = tnorm(scores, np.asarray(cohort, dtype=np.float64))
        order = np.argsort(-scores, kind="stable")[:max(1, top_k)]
        candidates = [(names[i], float(scores[i])) for i in order]
        best, score = candidates[0]
        return Identification(best if score >= threshold else UNKNOWN, score, candidates)



# Enrollment keeps only the speech in its audio and needs at least this much of it: below it
# an embedding says more about the words than the voice.
MIN_SPEECH_S = 1.0


def speech_embedding(classifier, vad, wave: np.ndarray, sample_rate: int, window_s: float,
                     min_speech_s: float = MIN_SPEECH_S, min_fraction: float | None = None
                     ) -> tuple[np.ndarray, float]:
    """(one embedding of the speech in `wave`, seconds of speech in it).

    The audio is cut into half-overlapping windows of the node's length; those its
    voice-activity gate would pass (`min_fraction` of their frames speech; default the
    model's `vad_min_speech`) are embedded as they are, as the node embeds a window it
    identifies, and their unit embeddings averaged. The first release joined the speech frames
    instead: a centroid of spliced speech, unlike any window the node compares with it (with
    the shipped model the demo's two voices scored 0.16-0.54 against it, 0.73-0.92 against
    this one; its stranger at most 0.27 and 0.31). Raises ValueError (with a message for the
    person enrolling) when there is too little speech. Without a `vad` every window counts and
    all the audio is "speech".
    """
    audio = classifier.prepare(wave, sample_rate)
    rate = classifier.sample_rate
    window = max(1, round(window_s * rate))
    starts = range(0, max(1, len(audio) - window + 1), max(1, window // 2))
    if vad is None:
        seconds, kept = len(audio) / rate, list(starts)
    else:
        if min_fraction is None:
            min_fraction = classifier.operating_point("vad_min_speech", DEFAULT_MIN_SPEECH)
        speech = vad.frames(resample(audio, rate, vad.sample_rate)) > SPEECH_PROBABILITY
        seconds = float(speech.sum()) * FRAME / vad.sample_rate
        per_frame = FRAME * rate / vad.sample_rate  # model-rate samples in one VAD frame

        def fraction(start: int) -> float:
            inside = speech[int(start / per_frame):int((start + window) / per_frame)]
            return float(inside.mean()) if inside.size else 0.0
        kept = [s for s in starts if fraction(s) >= max(min_fraction, 1e-9)]
    if seconds < min_speech_s or not kept:
        raise ValueError(f"only {seconds:.1f} s of speech in {len(audio) / rate:.1f} s of audio; "
                         f"enrollment needs at least {min_speech_s:g} s of speech")
    units = [normalised(classifier.embed(audio[s:s + window], rate)) for s in kept]
    return normalised(np.mean(units, axis=0)), seconds
