"""Quantity-imbalance losses and the ReNode weighted loss (ReNode Sec. 3.2, official forms)."""

import math

import torch
import torch.nn.functional as F

from papers.renode.losses import (
    aggregate,
    class_balanced_factors,
    per_node_loss,
    reweight_factors,
)

LABELS = torch.tensor([0, 0, 0, 1, 2, 2])
COUNTS = torch.bincount(LABELS, minlength=3)


def test_reweight_factors_on_toy_labels():
    assert torch.allclose(reweight_factors(COUNTS), torch.tensor([2 / 3, 2.0, 1.0]))


def test_class_balanced_factors_on_toy_labels():
    beta = 0.9
    raw = [(1 - beta) / (1 - beta**n) for n in (3, 1, 2)]
    expected = torch.tensor([r / sum(raw) * 3 for r in raw])
    assert torch.allclose(class_balanced_factors(COUNTS, beta), expected)


def test_ce_and_reweight_per_node():
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    ce = per_node_loss("ce", logits, LABELS, COUNTS)
    log_p = logits.log_softmax(1)
    assert torch.allclose(ce, -log_p[torch.arange(6), LABELS])
    rw = per_node_loss("re-weight", logits, LABELS, COUNTS)
    assert torch.allclose(rw, ce * reweight_factors(COUNTS)[LABELS])


def test_focal_matches_the_closed_form():
    gamma = 2.0
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = per_node_loss("focal", logits, LABELS, COUNTS, focal_gamma=gamma)
    alpha = reweight_factors(COUNTS).double()
    expected = []
    for i in range(6):
        total = 0.0
        for c in range(3):
            z = logits[i, c].item()
            p = 1 / (1 + math.exp(-z))
            y = 1.0 if c == LABELS[i] else 0.0
            p_t = p if y else 1 - p
            total += (1 - p_t) ** gamma * -math.log(p_t)
        expected.append(alpha[LABELS[i]].item() * total)
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-10)


def test_cb_softmax_matches_the_closed_form():
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = per_node_loss("cb-softmax", logits, LABELS, COUNTS, cb_beta=0.9999)
    probs = logits.softmax(1)
    weights = class_balanced_factors(COUNTS, 0.9999).double()
    one_hot = F.one_hot(LABELS, 3).double()
    bce = -(one_hot * probs.log() + (1 - one_hot) * (1 - probs).log())
    assert torch.allclose(got, weights[LABELS] * bce.mean(1), atol=1e-6)


def test_renode_aggregation_equals_hand_computation():
    per_node = torch.tensor([1.0, 2.0, 3.0])
    weights = torch.tensor([0.5, 1.0, 1.5])
    assert math.isclose(aggregate(per_node, weights).item(), 7 / 3, rel_tol=1e-6)
    assert math.isclose(aggregate(per_node).item(), 2.0)
