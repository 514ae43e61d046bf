"""The paper's metrics against values computed by hand."""
import math

import numpy as np
import pytest

from degram_core.scoring.metrics import classification_metrics, d_prime

PROBS = np.array([[0.7, 0.2, 0.1],
                  [0.2, 0.5, 0.3],
                  [0.3, 0.4, 0.3],
                  [0.1, 0.3, 0.6]])
TARGETS = np.array([0, 1, 2, 2])


def test_metrics_match_hand_computed_values():
    m = classification_metrics(PROBS, TARGETS, ["a", "b", "c"])
    assert m["top1"] == pytest.approx(0.75)  # rows 0, 1, 3 right
    # AP per class: a: its one positive ranks first -> 1; b: positive (0.5) first -> 1;
    # c: scores .1 .3 .3 .6, positives rows 2 (.3) and 3 (.6): .6 first (P=1), then .3 tied
    # with a negative: sklearn's tie handling gives precision 2/3 at recall 1 -> AP = 0.5*1 + 0.5*2/3
    assert m["mAP"] == pytest.approx((1 + 1 + (0.5 + 0.5 * 2 / 3)) / 3)
    # AUC: a 1.0; b 1.0; c: positive pairs (.3,.6) vs negatives (.1,.3): 3 wins + 1 tie of 4 -> 0.875
    assert m["AUC"] == pytest.approx((1 + 1 + 0.875) / 3)
    # d' = sqrt(2) * Phi^-1(0.9583...) = sqrt(2) * 1.7317
    assert m["d_prime"] == pytest.approx(math.sqrt(2) * 1.7317, abs=1e-3)
    assert m["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert m["per_class"]["c"]["recall"] == pytest.approx(0.5)
    assert m["top5"] == pytest.approx(1.0)  # 3 classes: every target is within the top 3


def test_d_prime_of_known_aucs():
    assert d_prime(0.5) == pytest.approx(0.0)
    # the paper's rows; its AUCs are rounded to 3 decimals, worth +-0.01 in d' here
    assert d_prime(0.968) == pytest.approx(2.627, abs=0.015)  # ResNet-18
    assert d_prime(0.977) == pytest.approx(2.818, abs=0.015)  # DEGramNet


def test_top5_on_many_classes():
    rng = np.random.default_rng(0)
    probs = rng.random((6, 8))
    targets = np.argsort(-probs, axis=1)[:, 5]  # always the 6th best: outside the top 5
    targets[:3] = np.argsort(-probs, axis=1)[:3, 4]  # the 5th best: inside
    m = classification_metrics(probs, targets)
    assert m["top5"] == pytest.approx(0.5) and m["top1"] == 0.0
