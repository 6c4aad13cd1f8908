"""AdaEdge / AdaGraph (Chen et al., AAAI 2020, the section on relieving over-smoothing).

After training, the graph is edited from the model's own predictions: edges between nodes
predicted as different classes are removed, and edges between nodes predicted as the same
class are added, in both cases only when both endpoints are predicted with confidence at least
a threshold, and at most a given number of edges (counts and thresholds are tuned on the
validation set). The model is then retrained on the edited graph, for a few rounds.

A pair's confidence is the smaller of its two nodes' top-class probabilities, and the most
confident pairs are edited first (the paper does not fix the order; this is our choice).
Edges are undirected: each edit touches both directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class EdgeEditConfig:
    """One AdaEdge step: thresholds on node confidence and caps on edited undirected edges."""

    remove_threshold: float = 0.9
    add_threshold: float = 0.9
    max_remove: int = 0
    max_add: int = 0


@dataclass
class EdgeEdit:
    """The edited graph (both directions of every edge) and the undirected pairs changed."""

    edge_index: Tensor
    removed: Tensor
    added: Tensor


def undirected_pairs(edge_index: Tensor) -> Tensor:
    """Unique ``(i, j)`` with ``i < j`` of an edge list, self loops dropped: ``[2, M]``."""
    low = torch.minimum(edge_index[0], edge_index[1])
    high = torch.maximum(edge_index[0], edge_index[1])
    keep = low != high
    return torch.unique(torch.stack([low[keep], high[keep]]), dim=1)


def both_directions(pairs: Tensor) -> Tensor:
    """``[2, M]`` undirected pairs -> ``[2, 2M]`` directed edges."""
    return torch.cat([pairs, pairs.flip(0)], dim=1)


def edges_to_remove(pairs: Tensor, probs: Tensor, threshold: float, limit: int) -> Tensor:
    """AdaEdge removal: existing pairs predicted as different classes, both endpoints confident.

    Returns at most ``limit`` pairs ``[2, K]``, the most confident first (pair confidence =
    the smaller endpoint confidence; ties by pair order).
    """
    confidence, predicted = probs.max(dim=1)
    src, dst = pairs
    pair_confidence = torch.minimum(confidence[src], confidence[dst])
    eligible = (predicted[src] != predicted[dst]) & (pair_confidence >= threshold)
    candidates = eligible.nonzero().flatten()
    order = torch.sort(pair_confidence[candidates], descending=True, stable=True).indices
    return pairs[:, candidates[order[:limit]]]


def edges_to_add(pairs: Tensor, probs: Tensor, threshold: float, limit: int) -> Tensor:
    """AdaEdge addition: non-adjacent pairs predicted as one class, both endpoints confident.

    Nodes are visited in decreasing confidence; node ``t`` pairs with every earlier node of its
    predicted class, so pairs come out in decreasing pair confidence (the smaller endpoint's),
    and the search stops after ``limit`` new pairs without enumerating all ``O(N^2)`` pairs.
    """
    if limit <= 0:
        return pairs.new_zeros((2, 0))
    confidence, predicted = probs.max(dim=1)
    existing = set(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True))
    nodes = (confidence >= threshold).nonzero().flatten()
    nodes = nodes[torch.sort(confidence[nodes], descending=True, stable=True).indices]
    seen: dict[int, list[int]] = {}
    chosen: list[tuple[int, int]] = []
    for node in nodes.tolist():
        same_class = seen.setdefault(int(predicted[node]), [])
        for other in same_class:
            pair = (min(node, other), max(node, other))
            if pair not in existing:
                chosen.append(pair)
                if len(chosen) == limit:
                    return torch.tensor(chosen, dtype=pairs.dtype).T
        same_class.append(node)
    if not chosen:
        return pairs.new_zeros((2, 0))
    return torch.tensor(chosen, dtype=pairs.dtype).T


def adjust_edges(edge_index: Tensor, probs: Tensor, config: EdgeEditConfig) -> EdgeEdit:
    """One AdaEdge step on ``edge_index`` from class probabilities ``probs`` ``[N, C]``."""
    pairs = undirected_pairs(edge_index)
    removed = edges_to_remove(pairs, probs, config.remove_threshold, config.max_remove)
    added = edges_to_add(pairs, probs, config.add_threshold, config.max_add)
    num_nodes = probs.shape[0]
    drop = torch.zeros(pairs.shape[1], dtype=torch.bool)
    if removed.numel():
        pair_key = pairs[0] * num_nodes + pairs[1]
        drop = torch.isin(pair_key, removed[0] * num_nodes + removed[1])
    kept = torch.cat([pairs[:, ~drop], added.to(pairs.device)], dim=1)
    return EdgeEdit(edge_index=both_directions(kept), removed=removed, added=added)
