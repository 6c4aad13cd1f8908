"""Torch F1 scores against scikit-learn."""

import pytest
import torch
from sklearn.metrics import f1_score

from papers.renode.metrics import f1_scores


@pytest.mark.parametrize("seed", range(5))
def test_f1_matches_sklearn(seed):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, 5, (200,), generator=gen)
    pred = torch.where(
        torch.rand(200, generator=gen) < 0.6, target, torch.randint(0, 6, (200,), generator=gen)
    )
    got = f1_scores(pred, target, 6)
    assert got["weighted_f1"] == pytest.approx(f1_score(target, pred, average="weighted"))
    assert got["macro_f1"] == pytest.approx(f1_score(target, pred, average="macro"))


def test_f1_with_a_class_never_predicted():
    target = torch.tensor([0, 0, 1, 1, 2])
    pred = torch.tensor([0, 0, 0, 1, 0])
    got = f1_scores(pred, target, 3)
    assert got["macro_f1"] == pytest.approx(f1_score(target, pred, average="macro"))
