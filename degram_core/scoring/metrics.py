"""The paper's metrics (Sec. 3.2): mAP, macro AUC, d-prime, top-1, top-5; plus a confusion
matrix and per-class figures. Ranking metrics come from scikit-learn."""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm
from sklearn.metrics import (average_precision_score, confusion_matrix,
                             precision_recall_fscore_support, roc_auc_score,
                             top_k_accuracy_score)


def d_prime(auc: float) -> float:
    """sqrt(2) * inverse normal CDF of the AUC."""
    return math.sqrt(2) * float(norm.ppf(auc))


def classification_metrics(probs: np.ndarray, targets: np.ndarray,
                           labels: list[str] | None = None) -> dict:
    """probs (N, C) and integer targets (N,) -> every figure of the paper and more.

    mAP and AUC average over the classes that occur in `targets` (a class with no positive
    example has no defined AP or AUC).
    """
    probs, targets = np.asarray(probs, dtype=np.float64), np.asarray(targets)
    n, classes = probs.shape
    labels = labels or [str(c) for c in range(classes)]
    onehot = np.eye(classes)[targets]
    present = np.flatnonzero(onehot.sum(axis=0) > 0)
    ap = average_precision_score(onehot[:, present], probs[:, present], average=None)
    auc = (roc_auc_score(onehot[:, present], probs[:, present], average=None)
           if len(present) > 1 else np.full(len(present), np.nan))
    mean_auc = float(np.mean(auc))
    all_classes = np.arange(classes)
    # with 5 classes or fewer every target is in the top 5
    top5 = (top_k_accuracy_score(targets, probs, k=5, labels=all_classes) if classes > 5 else 1.0)
    predicted = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predicted, labels=all_classes, zero_division=0)
    ap_by_class = dict(zip(present.tolist(), ap.tolist()))
    return {
        "clips": int(n),
        "mAP": float(np.mean(ap)),
        "AUC": mean_auc,
        "d_prime": d_prime(mean_auc) if not math.isnan(mean_auc) else float("nan"),
        "top1": float(np.mean(predicted == targets)),
        "top5": float(top5),
        "confusion": confusion_matrix(targets, predicted, labels=all_classes).tolist(),
        "per_class": {labels[c]: {"precision": float(precision[c]), "recall": float(recall[c]),
                                  "f1": float(f1[c]), "support": int(support[c]),
                                  "AP": ap_by_class.get(c)} for c in all_classes},
    }
