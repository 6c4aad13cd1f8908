"""Deep-layer analysis (Sec. 2.3, Hypothesis 2): label words steer the final prediction.

At each layer, the attention of the target position q to the label words, summed over heads and
over the demonstrations of each class, is read as a classifier of the model's final prediction;
AUCROC_l measures how well it predicts it. R_l = sum_{i<=l}(AUCROC_i - 0.5) /
sum_{i<=L}(AUCROC_i - 0.5) is the share of that predictive power reached by layer l (Eq. 5).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import Tensor


def class_attention(target_rows: Tensor, label_positions: Sequence[int],
                    demo_labels: Sequence[int], num_classes: int) -> Tensor:
    """(layers, C): A_l(q, p) summed over heads and over each class's label positions, from
    the target rows (layers, heads, T)."""
    per_position = target_rows.sum(1)[:, list(label_positions)]
    out = torch.zeros(per_position.shape[0], num_classes, dtype=per_position.dtype)
    out.index_add_(1, torch.tensor(list(demo_labels)), per_position.cpu())
    return out


def layer_auc(scores: np.ndarray, predictions: np.ndarray) -> float:
    """AUCROC of class scores (N, C) against the predicted classes (N,). Classes never
    predicted are dropped; two left: the score of the second, else scores normalised to sum to
    1 and one-vs-one macro AUC (the official choice)."""
    present = np.unique(predictions)
    if len(present) < 2:
        return float("nan")
    kept = scores[:, present]
    if len(present) == 2:
        return float(roc_auc_score(predictions == present[1], kept[:, 1]))
    kept = kept / kept.sum(1, keepdims=True)
    return float(roc_auc_score(predictions, kept, multi_class="ovo", labels=present))


def layer_aucs(scores: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """AUCROC_l for every layer from scores (N, layers, C)."""
    return np.array([layer_auc(scores[:, layer], predictions)
                     for layer in range(scores.shape[1])])


def cumulative_share(aucs: np.ndarray) -> np.ndarray:
    """R_l of Eq. 5."""
    gains = np.asarray(aucs, dtype=float) - 0.5
    return np.cumsum(gains) / gains.sum()
