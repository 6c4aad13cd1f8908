"""common.metrics against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from common.metrics import (
    accuracy,
    auroc,
    exact_match,
    expected_calibration_error,
    f1_scores,
    mean_std,
)


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_and_f1_match_sklearn(seed):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, 5, (200,), generator=gen)
    pred = torch.where(torch.rand(200, generator=gen) < 0.6, target,
                       torch.randint(0, 4, (200,), generator=gen))
    scores = f1_scores(pred, target, 5)
    assert scores["weighted_f1"] == pytest.approx(f1_score(target, pred, average="weighted"))
    assert scores["macro_f1"] == pytest.approx(f1_score(target, pred, average="macro"))
    assert accuracy(pred, target) == pytest.approx(accuracy_score(target, pred))
    logits = torch.nn.functional.one_hot(pred, 5).float()
    assert accuracy(logits, target) == accuracy(pred, target)


def test_f1_skips_absent_classes_like_sklearn():
    target, pred = torch.tensor([0, 0, 2, 2]), torch.tensor([0, 2, 2, 2])
    scores = f1_scores(pred, target, num_classes=4)
    assert scores["macro_f1"] == pytest.approx(f1_score(target, pred, average="macro"))


def test_ece_hand_computed():
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    target = torch.tensor([0, 1, 1, 0])
    bins = {0.9: [1.0], 0.8: [0.0], 0.7: [1.0], 0.55: [0.0]}
    want = sum(abs(np.mean(v) - c) * len(v) for c, v in bins.items()) / 4
    assert expected_calibration_error(probs, target, 10) == pytest.approx(want)
    assert expected_calibration_error(probs, target, 1) == pytest.approx(abs(0.5 - 0.7375))


@pytest.mark.parametrize("seed", range(3))
def test_auroc_matches_sklearn_with_ties(seed):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, 2, (300,), generator=gen)
    scores = torch.randint(0, 20, (300,), generator=gen).float() + target
    assert auroc(scores, target) == pytest.approx(roc_auc_score(target, scores))


def test_exact_match_and_mean_std():
    assert exact_match(["The cat!", "dog"], ["cat", "a Dog"]) == 1.0
    assert exact_match(["The cat!"], ["cat"], normalize=False) == 0.0
    mean, std = mean_std([1.0, 2.0, 3.0])
    assert (mean, std) == (2.0, pytest.approx(1.0))
    assert mean_std([1.0, 2.0, 3.0], ddof=0)[1] == pytest.approx(np.std([1, 2, 3]))
    assert mean_std([4.0]) == (4.0, 0.0)
