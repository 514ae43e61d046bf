"""A gallery: named centroids of one model's embeddings, for open-set, few-shot recognition.

What is named is a `kind` of thing: speakers (the speaker_id node, `degram enroll`), or sounds
a robot was taught. An entry is the mean of the L2-normalised embeddings of its enrolled clips,
re-normalised (the centroid); a clip is identified by cosine similarity with every centroid,
and below a threshold it is nothing we know ("unknown"). Embeddings come from
`Classifier.embed`, so any checkpoint works, including one never trained on what is enrolled.
Clips are made into embeddings by the one enrollment path, galleries/enrollment.py.

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

from ..runtime.checks import Refused, check_name
from ..runtime.embeddings import l2_normalise, tnorm
from ..runtime.files import atomic_write

FORMAT = "degram-gallery"
VERSION = 1
UNKNOWN = "unknown"
# The kinds of gallery: the key its file holds its entries under -> what one entry is.
KINDS = {"speakers": "speaker", "sounds": "sound"}


class GalleryError(ValueError):
    """A gallery that cannot be used, or a request it refuses; names the gallery file."""


@dataclass
class Identification:
    name: str  # best entry, or UNKNOWN below the threshold (or with no entries)
    score: float  # similarity of the best entry (0.0 with no entries)
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


def vector(values, what: str = "embedding") -> np.ndarray:
    """Any array of one embedding -> (D,) float64 unit vector (ValueError if it has none)."""
    return l2_normalise(np.asarray(values, dtype=np.float64).reshape(-1), what)


@dataclass
class Entry:
    mean: np.ndarray  # mean of the clips' unit embeddings; kept so new clips update it exactly
    clips: int

    @property
    def centroid(self) -> np.ndarray:
        return l2_normalise(self.mean, "centroid")


class Gallery:
    """Enrolled entries (speakers, or sounds: `kind`) of one model, persisted in `path` (loaded
    now if it exists).

    `model` names the model whose embeddings are stored (see checkpoint_identity); a file made
    by another model is refused. Thread-safe: a node enrolls from a service callback while its
    worker identifies windows.
    """

    def __init__(self, path: str | Path, model: str, kind: str = "speakers"):
        if kind not in KINDS:
            raise ValueError(f"unknown gallery kind {kind!r}; choose from {sorted(KINDS)}")
        self.path = Path(path).expanduser()
        self.model, self.kind, self.noun = model, kind, KINDS[kind]
        self.dim: int | None = None
        self.entries: dict[str, Entry] = {}
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
            raise self._error(f"not a readable {self.noun} gallery ({type(error).__name__}: "
                              f"{error}); fix or move the file, it is never overwritten "
                              f"silently") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise self._error(f"not a degram {self.noun} gallery (no '{FORMAT}' format tag)")
        if data.get("version") != VERSION:
            raise self._error(f"gallery version {data.get('version')} is not supported "
                              f"(this degram reads version {VERSION})")
        entries, dim = data.get(self.kind), data.get("embedding_dim")
        if not isinstance(entries, dict) or not isinstance(dim, int) or dim <= 0:
            raise self._error(f"gallery lacks '{self.kind}' or a positive 'embedding_dim'")
        if entries and data.get("model") != self.model:
            raise self._error(f"gallery was made with model {data.get('model')!r}, not "
                              f"{self.model!r}: its embeddings cannot be compared; enroll again "
                              f"into another gallery file, or use that model")
        loaded = {}
        for name, entry in entries.items():
            try:
                mean = np.asarray(entry["mean"], dtype=np.float64)
                clips = int(entry["clips"])
            except (KeyError, TypeError, ValueError) as error:
                raise self._error(f"{self.noun} {name!r} is malformed ({error!r})") from None
            if mean.shape != (dim,) or not np.isfinite(mean).all() or clips < 1:
                raise self._error(f"{self.noun} {name!r} is malformed (needs {dim} finite values "
                                  f"and clips >= 1)")
            loaded[name] = Entry(mean, clips)
        self.entries = loaded
        self.dim = dim if loaded else None  # an empty gallery adopts whichever model enrolls next

    def _save(self) -> None:
        data = {
            "format": FORMAT, "version": VERSION, "model": self.model, "embedding_dim": self.dim,
            self.kind: {name: {"centroid": e.centroid.tolist(), "mean": e.mean.tolist(),
                               "clips": e.clips}
                        for name, e in sorted(self.entries.items())},
        }
        text = json.dumps(data, indent=1)
        atomic_write(self.path, lambda f: f.write(text.encode("utf-8")))

    # --- entries -----------------------------------------------------------------------

    def _check_dim(self, unit: np.ndarray) -> None:
        if self.dim is not None and unit.size != self.dim:
            raise self._error(f"embedding has {unit.size} values, the gallery's {self.kind} "
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
            raise self._error(f"{UNKNOWN!r} is reserved for {self.kind} not in the gallery")
        rows = np.asarray(embeddings, dtype=np.float64)
        rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
        if rows.ndim != 2 or rows.shape[0] == 0:
            raise self._error(f"enrolling {name!r} needs at least one embedding")
        units = np.stack([vector(row, f"embedding {i} of {name!r}")
                          for i, row in enumerate(rows)])
        with self.lock:
            self._check_dim(units[0])
            old, old_dim = self.entries.get(name), self.dim
            total = (old.mean * old.clips if old else 0.0) + units.sum(axis=0)
            clips = (old.clips if old else 0) + len(units)
            self.entries[name] = Entry(total / clips, clips)
            self.dim = units.shape[1]
            try:
                self._save()
            except BaseException:
                if old is None:
                    del self.entries[name]
                else:
                    self.entries[name] = old
                self.dim = old_dim
                raise
            return clips

    def forget(self, name: str) -> bool:
        """Remove `name`; False if it was not enrolled."""
        with self.lock:
            entry = self.entries.pop(name, None)
            if entry is None:
                return False
            try:
                self._save()
            except BaseException:
                self.entries[name] = entry
                raise
            return True

    def names(self) -> list[str]:
        with self.lock:
            return sorted(self.entries)

    def clips(self, name: str) -> int:
        with self.lock:
            return self.entries[name].clips

    def __len__(self) -> int:
        with self.lock:
            return len(self.entries)

    def identify(self, embedding, threshold: float, top_k: int = 3,
                 cohort: np.ndarray | None = None) -> Identification:
        """The most similar entry by cosine similarity, or UNKNOWN below `threshold`.

        With `cohort`, the clip's cosines with its model's training speakers (what
        Classifier.speaker_vector gives a model that T-normalises), the similarities are
        T-normalised by them (embeddings.tnorm): the threshold is then in their units."""
        with self.lock:
            if not self.entries:
                return Identification(UNKNOWN, 0.0, [])
            names = list(self.entries)
            centroids = np.stack([self.entries[n].centroid for n in names])
        unit = vector(embedding)
        self._check_dim(unit)
        scores = centroids @ unit
        if cohort is not None:
            scores = tnorm(scores, np.asarray(cohort, dtype=np.float64))
        order = np.argsort(-scores, kind="stable")[:max(1, top_k)]
        candidates = [(names[i], float(scores[i])) for i in order]
        best, score = candidates[0]
        return Identification(best if score >= threshold else UNKNOWN, score, candidates)
