"""The F1 edge cases ReNode's macro-F1 meets on imbalanced splits (tail classes that are never
predicted, or predicted but absent from the test set), against scikit-learn; the random cases
are in tests/common/test_metrics.py."""

import pytest
import torch
from sklearn.metrics import f1_score

from common.metrics import f1_scores


@pytest.mark.parametrize(
    ("target", "pred"),
    [
        ([0, 0, 1, 1, 2], [0, 0, 0, 1, 0]),  # class 2 never predicted
        ([0, 0, 1, 1, 1], [0, 2, 1, 1, 1]),  # class 2 predicted but never true
    ],
)
def test_f1_scores_tail_class_edge_cases(target, pred):
    target, pred = torch.tensor(target), torch.tensor(pred)
    got = f1_scores(pred, target, 3)
    assert got["macro_f1"] == pytest.approx(f1_score(target, pred, average="macro"))
    assert got["weighted_f1"] == pytest.approx(f1_score(target, pred, average="weighted"))
