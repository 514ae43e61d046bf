"""Speaker verification and identification figures from embeddings.

The protocol is the node's own: a speaker is the centroid of K enrollment clips (unit
embeddings averaged, re-normalised), a test clip is scored by cosine similarity against
every centroid. Trials are (test clip, enrolled speaker) pairs: target when they match.

A model that normalises its scores (T-norm, `cohort` below) gives each test clip its cosines
with a cohort of other voices, its training speakers: the clip's similarity to an enrolled
speaker then counts in standard deviations above its similarity to that cohort. A window
that resembles every voice a little (noise, a child's voice, a cheap microphone) no longer
passes a threshold that a clear one needs; the ranking of the enrolled speakers is unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime.embeddings import centroid, tnorm


def equal_error_rate(scores: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """(EER, the threshold where false accepts and false rejects meet)."""
    # Imported here: the nodes import this module (Gallery, Classifier) but never score trials,
    # and scikit-learn costs them most of a second at start-up.
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(targets.astype(int), scores)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2), float(thresholds[i])


@dataclass
class Enrollment:
    names: list[str]
    centroids: np.ndarray  # (S, D) unit
    test: np.ndarray  # (T, D) unit embeddings of the clips not used to enroll
    test_names: list[str]
    test_cohort: np.ndarray | None = None  # (T, C) their cosines with the cohort: T-norm

    def scores(self) -> np.ndarray:
        """(T, S): every test clip against every centroid, as the node scores a window."""
        scores = self.test @ self.centroids.T
        return scores if self.test_cohort is None else tnorm(scores, self.test_cohort)


def enroll(embeddings: np.ndarray, speakers: list[str], k: int, rng: np.random.Generator,
           cohort: np.ndarray | None = None) -> Enrollment:
    """K random clips of each speaker enroll it; the rest are its test clips. Speakers with
    fewer than K + 1 clips are left out. `cohort` (N, C): each clip's cosines with the
    model's cohort, for a model that normalises its scores."""
    speakers = np.asarray(speakers)
    names, centroids, test, test_names, test_cohort = [], [], [], [], []
    for name in sorted(set(speakers.tolist())):
        index = rng.permutation(np.flatnonzero(speakers == name))
        if len(index) <= k:
            continue
        names.append(name)
        centroids.append(centroid(embeddings[index[:k]]))
        test.append(embeddings[index[k:]])
        test_names += [name] * (len(index) - k)
        if cohort is not None:
            test_cohort.append(cohort[index[k:]])
    return Enrollment(names, np.stack(centroids), np.concatenate(test), test_names,
                      np.concatenate(test_cohort) if cohort is not None else None)


def trials(e: Enrollment) -> tuple[np.ndarray, np.ndarray]:
    """Scores and target flags of every (test clip, enrolled speaker) pair."""
    targets = np.asarray(e.test_names)[:, None] == np.asarray(e.names)[None, :]
    return e.scores().ravel(), targets.ravel()


def identified(e: Enrollment) -> np.ndarray:
    """(T,) bool: whether each test clip's best-scoring enrolled speaker is its own."""
    return np.asarray(e.names)[e.scores().argmax(1)] == np.asarray(e.test_names)


def identification_accuracy(e: Enrollment) -> float:
    return float(np.mean(identified(e)))


def best_matches(e: Enrollment, known) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Only `known` speakers enrolled, every test clip against them: (its best score, whether
    that best match is its own speaker, whether it is one of `known`), each (T,)."""
    keep = np.isin(e.names, known)
    names, scores = np.asarray(e.names)[keep], e.scores()[:, keep]
    truth = np.asarray(e.test_names)
    return scores.max(1), names[scores.argmax(1)] == truth, np.isin(truth, known)


def open_set(e: Enrollment, known: list[str], threshold: float) -> tuple[float, float]:
    """Only `known` speakers enrolled: (known test clips named right, strangers' clips
    rejected) at `threshold`."""
    top, right, is_known = best_matches(e, known)
    named_right = right & (top >= threshold)
    rejected = top < threshold
    return float(named_right[is_known].mean()), float(rejected[~is_known].mean())


def open_set_threshold(embeddings: np.ndarray, speakers: list[str], gallery: int, k: int,
                       rng: np.random.Generator, draws: int = 20,
                       cohort: np.ndarray | None = None) -> float:
    """The similarity threshold at which a robot that knows `gallery` of these speakers (K
    clips each) names its people right as often as it rejects the others.

    A stranger is compared with every enrolled person and only its best match counts, so
    the threshold of single trials (the EER's) lets too many strangers through a gallery."""
    names = sorted(set(speakers))
    if not 0 < gallery < len(names):
        raise ValueError(f"a gallery of {gallery} needs more than {gallery} speakers, "
                         f"got {len(names)}")
    known_best, known_right, stranger_best = [], [], []
    for _ in range(draws):
        e = enroll(embeddings, speakers, k, rng, cohort)
        top, right, is_known = best_matches(e, rng.choice(e.names, gallery, replace=False))
        known_best.append(top[is_known])
        known_right.append(right[is_known])
        stranger_best.append(top[~is_known])
    known_best, known_right = np.concatenate(known_best), np.concatenate(known_right)
    stranger_best = np.concatenate(stranger_best)
    candidates = np.unique(np.concatenate([known_best, stranger_best]))
    named = np.array([(known_right & (known_best >= t)).mean() for t in candidates])
    rejected = np.array([(stranger_best < t).mean() for t in candidates])
    return float(candidates[int(np.argmin(np.abs(named - rejected)))])
