"""Oracle topology edits of the "Topology Affects the Information-to-noise Ratio" study.

Chen et al. (AAAI 2020) show that editing the graph with the gold labels moves MADGap and
accuracy together: removing inter-class edges helps, adding inter-class edges hurts.
Rates are fractions: removal of ``rate`` of the existing inter-class edges; addition of
``rate x`` (number of existing undirected edges) new random pairs of the requested kind.
"""

from __future__ import annotations

import torch
from torch import Tensor

from papers.madgap.adagraph import both_directions, undirected_pairs


def inter_class(pairs: Tensor, labels: Tensor) -> Tensor:
    """Bool per undirected pair: do its endpoints have different labels?"""
    return labels[pairs[0]] != labels[pairs[1]]


def remove_inter_class_edges(
    edge_index: Tensor, labels: Tensor, rate: float, generator: torch.Generator
) -> Tensor:
    """Drop a random ``rate`` fraction of the inter-class undirected edges (both directions)."""
    pairs = undirected_pairs(edge_index)
    inter = inter_class(pairs, labels).nonzero().flatten()
    count = round(rate * inter.numel())
    chosen = inter[torch.randperm(inter.numel(), generator=generator)[:count]]
    keep = torch.ones(pairs.shape[1], dtype=torch.bool)
    keep[chosen] = False
    return both_directions(pairs[:, keep])


def add_random_edges(
    edge_index: Tensor,
    labels: Tensor,
    rate: float,
    generator: torch.Generator,
    same_class: bool = False,
) -> Tensor:
    """Add ``round(rate x |E|)`` new random pairs, all inter-class (or all intra-class).

    Candidate pairs are drawn uniformly among the node pairs of the requested kind that are
    not already edges (rejection sampling in batches).
    """
    pairs = undirected_pairs(edge_index)
    num_nodes = labels.numel()
    wanted = round(rate * pairs.shape[1])
    taken = set((pairs[0] * num_nodes + pairs[1]).tolist())
    added: list[int] = []
    while len(added) < wanted:
        draw = torch.randint(0, num_nodes, (2, 4 * (wanted - len(added)) + 16), generator=generator)
        low, high = torch.minimum(draw[0], draw[1]), torch.maximum(draw[0], draw[1])
        kind = (labels[low] == labels[high]) if same_class else (labels[low] != labels[high])
        for key in (low * num_nodes + high)[kind & (low != high)].tolist():
            if key not in taken:
                taken.add(key)
                added.append(key)
                if len(added) == wanted:
                    break
    new = torch.tensor(added, dtype=pairs.dtype)
    new_pairs = torch.stack([new // num_nodes, new % num_nodes])
    return both_directions(torch.cat([pairs, new_pairs], dim=1))
