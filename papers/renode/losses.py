"""Quantity-imbalance losses that ReNode combines with, and the ReNode aggregation.

Chen et al. 2021, Sec. 3.2 (ReNode loss) and Sec. 4 (the QINL baselines it is paired with:
re-weight, focal, class-balanced). Forms follow the official ``transductive/imb_loss.py``:
focal is a sigmoid (one-vs-all, BCE-with-logits) focal loss summed over classes and scaled by the
re-weight factor of the sample's class; cb-softmax is a BCE on softmax probabilities against the
one-hot target, scaled by the class-balanced factor of the sample's class and averaged over
classes. Every loss returns one value per labelled node; :func:`aggregate` reduces them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("ce", "re-weight", "focal", "cb-softmax")


def reweight_factors(class_counts: torch.Tensor) -> torch.Tensor:
    """Inverse-frequency class weights: mean class size / class size (re-weight loss)."""
    counts = class_counts.to(torch.float32)
    return counts.mean() / counts


def class_balanced_factors(class_counts: torch.Tensor, beta: float = 0.9999) -> torch.Tensor:
    """Class-balanced weights (Cui et al. 2019): (1 - β) / (1 - βⁿ), rescaled to sum to C."""
    counts = class_counts.to(torch.float64)
    weights = (1.0 - beta) / (1.0 - torch.pow(beta, counts))
    return (weights / weights.sum() * len(counts)).to(torch.float32)


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, sample_weight: torch.Tensor, gamma: float = 2.0
) -> torch.Tensor:
    """Per-node focal loss Σ_c w_{y} (1 - p_t)^γ BCE(z_c, 1[c = y]) with p = σ(z) (Lin et al.)."""
    one_hot = F.one_hot(targets, logits.size(1)).to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, one_hot, reduction="none")
    sign = 2.0 * one_hot - 1.0
    modulator = torch.exp(gamma * F.logsigmoid(-sign * logits))
    return sample_weight.unsqueeze(1).mul(modulator * bce).sum(1)


def softmax_bce_loss(
    logits: torch.Tensor, targets: torch.Tensor, sample_weight: torch.Tensor
) -> torch.Tensor:
    """Per-node mean over classes of w_y · BCE(softmax(z)_c, 1[c = y]) (the cb-softmax form)."""
    one_hot = F.one_hot(targets, logits.size(1)).to(logits.dtype)
    probs = logits.softmax(dim=1)
    bce = F.binary_cross_entropy(probs, one_hot, reduction="none")
    return (sample_weight.unsqueeze(1) * bce).mean(1)


def per_node_loss(
    name: str,
    logits: torch.Tensor,
    targets: torch.Tensor,
    class_counts: torch.Tensor,
    focal_gamma: float = 2.0,
    cb_beta: float = 0.9999,
) -> torch.Tensor:
    """The unreduced loss ℓ_v of one of ``ce``, ``re-weight``, ``focal``, ``cb-softmax``."""
    if name == "ce":
        return F.cross_entropy(logits, targets, reduction="none")
    if name == "re-weight":
        factors = reweight_factors(class_counts).to(logits.device, logits.dtype)
        return F.cross_entropy(logits, targets, weight=factors, reduction="none")
    if name == "focal":
        factors = reweight_factors(class_counts).to(logits.device, logits.dtype)
        return sigmoid_focal_loss(logits, targets, factors[targets], focal_gamma)
    if name == "cb-softmax":
        factors = class_balanced_factors(class_counts, cb_beta).to(logits.device, logits.dtype)
        return softmax_bce_loss(logits, targets, factors[targets])
    raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}")


def aggregate(per_node: torch.Tensor, node_weights: torch.Tensor | None = None) -> torch.Tensor:
    """ReNode loss Σ_v w_v ℓ_v / |L| (Sec. 3.2); the plain mean when ``node_weights`` is None."""
    if node_weights is None:
        return per_node.mean()
    return (per_node * node_weights).sum() / per_node.numel()
