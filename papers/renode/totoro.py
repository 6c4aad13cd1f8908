"""Totoro (topology imbalance) and ReNode training weights (Chen et al. 2021, Sec. 3.1-3.2).

All functions take the PPR rows of the labelled nodes, ``ppr_labelled = Π[L, :]`` (|L| x N),
which is all these quantities need.
"""

from __future__ import annotations

import math

import torch


def class_influence(
    ppr_labelled: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """Class-level influence P[x, c] = mean over labelled l of class c of Π[l, x] (Sec. 3.1).

    Returns an N x C matrix. A class with no labelled node gets a zero column (the official
    code would produce NaN there).
    """
    one_hot = torch.nn.functional.one_hot(labels.long(), num_classes).to(ppr_labelled.dtype)
    counts = one_hot.sum(0).clamp_min(1.0)
    return (ppr_labelled.T @ one_hot) / counts


def node_totoro(ppr_labelled: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Influence conflict of each labelled node (Sec. 3.1, the per-node Totoro term).

    T_v = Σ_x Π[v, x] · Σ_{c ≠ y_v} P[x, c]: the influence from other classes that reaches the
    nodes v itself influences. Large T_v means v sits near a class boundary. Returns |L| values.
    """
    influence = class_influence(ppr_labelled, labels, num_classes)
    conflict = influence.sum(1, keepdim=True) - influence
    per_class = ppr_labelled @ conflict
    return per_class.gather(1, labels.long().view(-1, 1)).squeeze(1)


def dataset_totoro(ppr_labelled: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """Dataset-level Totoro: the mean of T_v over the labelled set (Sec. 3.1)."""
    return node_totoro(ppr_labelled, labels, num_classes).mean().item()


def conflict_rank(totoro: torch.Tensor) -> torch.Tensor:
    """Rank of each labelled node by ascending T_v, 0 = least conflict (Sec. 3.2).

    Ties keep their input order (a stable sort), as the official code does for nodes in
    ascending id order.
    """
    order = torch.argsort(totoro, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order), device=order.device)
    return rank


def renode_weights(totoro: torch.Tensor, w_min: float = 0.5, w_max: float = 1.5) -> torch.Tensor:
    """ReNode cosine-annealed training weights (Sec. 3.2).

    w_v = w_min + ½ (w_max - w_min) (1 + cos(rank_v · π / (|L| - 1))): the least conflicted
    node gets w_max, the most conflicted w_min. The official code's ``rn_base_weight`` is
    w_min and ``rn_scale_weight`` is w_max - w_min.
    """
    n = len(totoro)
    rank = conflict_rank(totoro).to(torch.float64)
    angle = rank * (math.pi / (n - 1)) if n > 1 else torch.zeros_like(rank)
    weights = w_min + 0.5 * (w_max - w_min) * (1.0 + torch.cos(angle))
    return weights.to(totoro.dtype)
