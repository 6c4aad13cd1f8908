"""Per-class attention, AUCROC_l and R_l (Sec. 2.3, Eq. 5) on toy arrays."""

from __future__ import annotations

import numpy as np
import torch

from papers.label_anchors.deep_layers import (
    class_attention,
    cumulative_share,
    layer_auc,
    layer_aucs,
)


def test_class_attention_sums_heads_and_same_class_positions():
    rows = torch.arange(2 * 2 * 6, dtype=torch.float).reshape(2, 2, 6)  # layers, heads, T
    out = class_attention(rows, [1, 3, 4], [0, 1, 0], 2)
    # layer 0: heads sum = [6, 8, 10, 12, 14, 16]; class 0 = pos 1 + 4 = 8 + 14
    torch.testing.assert_close(out[0], torch.tensor([22.0, 12.0]))
    # layer 1: heads sum = [30, 32, 34, 36, 38, 40]
    torch.testing.assert_close(out[1], torch.tensor([32.0 + 38.0, 36.0]))


def test_binary_auc_by_hand():
    scores = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
    predictions = np.array([0, 1, 1, 0])
    # positives (pred 1) score 0.4, 0.7; negatives 0.1, 0.55: pairs won 1+0+1+1 of 4
    assert layer_auc(scores, predictions) == 0.75


def test_multiclass_drops_unpredicted_classes_and_uses_ovo():
    scores = np.array([[5.0, 1, 1, 9], [1, 5, 1, 9], [1, 1, 5, 9], [4, 1, 1, 9], [1, 4, 1, 9],
                       [1, 1, 4, 9]])
    predictions = np.array([0, 1, 2, 0, 1, 2])
    assert layer_auc(scores, predictions) == 1.0  # class 3 never predicted: dropped
    assert np.isnan(layer_auc(scores, np.zeros(6, dtype=int)))
    np.testing.assert_allclose(layer_aucs(np.stack([scores, scores], 1), predictions), [1, 1])


def test_cumulative_share():
    np.testing.assert_allclose(cumulative_share(np.array([0.5, 0.7, 0.9])), [0, 1 / 3, 1])
