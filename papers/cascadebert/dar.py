"""Difficulty-aware regularisation (DAR, Sec. 3.2 of CascadeBERT).

Difficulty labels: a training example is *easy* for the small model when the small model,
trained with K seeds (K = 5 in the paper), predicts it correctly at least ``min_correct`` times
(default: all K); the rest are *hard*. DAR pairs, within a mini-batch, every easy example with
one hard example drawn uniformly with replacement (the official code) and adds a margin ranking
loss on the small model's confidence c = max_c p_c:

    L_DAR = mean over pairs (e, h) of max(0, m - (c_e - c_h)),

so that the small model is confident on what it can get right and unsure on what it cannot:
the cascade's exit rule then escalates the hard examples. The small model trains on
CE + lambda * L_DAR (lambda = 0.5, m = 0.5 on MRPC in the official script).
"""

from __future__ import annotations

import torch
from torch import Tensor


def difficulty_labels(correct: Tensor, min_correct: int | None = None) -> Tensor:
    """Easy (True) / hard (False) per example from ``correct`` (K, N): whether each of the K
    seeds' small models predicted each training example correctly."""
    k = correct.shape[0]
    need = k if min_correct is None else min_correct
    if not 1 <= need <= k:
        raise ValueError(f"min_correct must be in 1..{k}, got {need}")
    return correct.sum(0) >= need


def dar_pairs(easy: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Index pairs (easy_i, hard_i) of one mini-batch: every easy row with one hard row drawn
    uniformly with replacement; empty when the batch lacks either kind."""
    easy_rows = easy.nonzero().flatten()
    hard_rows = (~easy).nonzero().flatten()
    if len(easy_rows) == 0 or len(hard_rows) == 0:
        empty = easy_rows.new_empty(0)
        return empty, empty
    draw = torch.randint(len(hard_rows), (len(easy_rows),), generator=generator,
                         device="cpu").to(easy.device)
    return easy_rows, hard_rows[draw]


def dar_loss(confidences: Tensor, easy: Tensor, margin: float,
             generator: torch.Generator | None = None) -> Tensor:
    """L_DAR of one mini-batch from the small model's confidences (B,) and difficulty labels
    (B,): the mean hinge max(0, m - (c_easy - c_hard)) over :func:`dar_pairs`; 0 without pairs."""
    easy_rows, hard_rows = dar_pairs(easy, generator)
    if len(easy_rows) == 0:
        return confidences.sum() * 0.0
    gap = confidences[easy_rows] - confidences[hard_rows]
    return torch.clamp(margin - gap, min=0.0).mean()
