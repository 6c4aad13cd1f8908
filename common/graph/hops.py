"""Shortest-path hop counts on a sparse undirected graph, by multi-source breadth-first search.

MADGap's neighbour / remote masks (Chen et al., AAAI 2020, the setting of Eq. 5: neighbour
<= 3 hops, remote >= 8 hops) are built from these distances; any paper that needs "pairs within
k hops" uses the same search. Nothing here forms a dense matrix power: one sparse frontier
expansion per hop advances a whole block of sources at once.
"""

from __future__ import annotations

import torch
from torch import Tensor

UNREACHED = 255
"""Value of :func:`hop_distances` for a pair not reached within the searched number of hops."""


def hop_distances(adjacency: Tensor, sources: Tensor, max_hops: int | None = None) -> Tensor:
    """Hop counts from each of ``sources`` ``[B]`` to every node: uint8 ``[B, N]``.

    ``adjacency`` is the symmetric 0/1 sparse matrix of
    :func:`common.graph.adjacency.undirected_adjacency`. Each hop costs one sparse product
    (O(E * B)). Pairs not reached within ``max_hops`` (``None``: search to exhaustion, i.e. the
    pair is in different connected components) are :data:`UNREACHED`; distances saturate below
    it, so ``max_hops`` is capped at ``UNREACHED - 1``.
    """
    limit = UNREACHED - 1 if max_hops is None else min(max_hops, UNREACHED - 1)
    num_nodes = adjacency.shape[0]
    columns = torch.arange(sources.numel(), device=sources.device)
    frontier = torch.zeros(num_nodes, sources.numel(), device=sources.device)
    frontier[sources, columns] = 1.0
    dist = torch.full(frontier.shape, UNREACHED, dtype=torch.uint8, device=sources.device)
    dist[sources, columns] = 0
    for hop in range(1, limit + 1):
        reached = (adjacency @ frontier) > 0
        new = reached & (dist == UNREACHED)
        if not new.any():
            break
        dist[new] = hop
        frontier = new.float()
    return dist.T.contiguous()
