"""MAD, MADGap and MADReg (Chen et al., AAAI 2020, Eq. 1-5 and the MADReg objective).

Everything works on row blocks of the N x N pair matrices, so the memory is O(rows x N) rather
than O(N^2); the target rows alone are computed (MADReg on training nodes touches 140 rows of
Cora, not 2708). The functions are plain torch and differentiable in ``h``: the only
non-differentiable pieces are the counts of non-zero entries in Eq. 3-4, which are constants.

Hop masks come from :func:`common.graph.hops.hop_distances`, a multi-source breadth-first search
on the sparse adjacency (one frontier expansion per hop for a block of sources), never from
dense matrix powers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from common.graph.adjacency import undirected_adjacency
from common.graph.hops import UNREACHED, hop_distances

MaskFn = Callable[[int, int], Tensor]
"""``mask(start, stop)`` -> bool ``[stop - start, N]``: the mask rows of targets[start:stop]."""


def cosine_distance(rows: Tensor, cols: Tensor, row_ids: Tensor | None = None) -> Tensor:
    """Eq. 1: ``D_ij = 1 - cos(H_i, H_j)`` for a block of rows against all columns.

    A zero vector has cosine 0 with everything (distance 1), as in the official code's
    ``sklearn.metrics.pairwise_distances(metric="cosine")``. Values are clamped to [0, 2]
    against rounding, and ``D_ii`` is exactly 0 where ``row_ids`` gives the rows' node ids.
    """
    unit_rows = F.normalize(rows, dim=1, eps=1e-12)
    unit_cols = F.normalize(cols, dim=1, eps=1e-12)
    dist = torch.addmm(rows.new_ones(()), unit_rows, unit_cols.T, alpha=-1.0).clamp(0.0, 2.0)
    if row_ids is not None:
        dist[torch.arange(row_ids.numel(), device=dist.device), row_ids] = 0.0
    return dist


def node_mean_distance(dist: Tensor, mask: Tensor | None) -> Tensor:
    """Eq. 2-3: ``D^tgt = D o M^tgt``; per row, the mean of its non-zero entries (0 if none)."""
    masked = dist if mask is None else torch.where(mask, dist, 0.0)
    count = torch.count_nonzero(masked, dim=1)
    return masked.sum(dim=1) / count.clamp(min=1)


def mean_of_nonzero(node_values: Tensor) -> Tensor:
    """Eq. 4: ``MAD^tgt = sum_i D̄_i / sum_i 1(D̄_i)``: the mean over nodes with a non-zero value."""
    return node_values.sum() / torch.count_nonzero(node_values).clamp(min=1)


def auto_chunk_rows(num_nodes: int, budget_bytes: int = 2**28) -> int:
    """Rows per block so that a handful of float32 ``rows x N`` temporaries fit ``budget_bytes``."""
    return max(1, budget_bytes // (16 * max(num_nodes, 1)))


def _target_ids(h: Tensor, targets: Tensor | None) -> Tensor:
    if targets is None:
        return torch.arange(h.shape[0], device=h.device)
    if targets.dtype == torch.bool:
        return targets.nonzero().flatten()
    return targets


def mad(
    h: Tensor,
    targets: Tensor | None = None,
    mask: MaskFn | None = None,
    chunk_rows: int | None = None,
) -> Tensor:
    """Eq. 1-4: MAD of ``h`` ``[N, d]`` over ``targets`` (ids or bool; default all nodes).

    ``mask(start, stop)`` gives the mask rows of ``targets[start:stop]``; ``None`` is
    ``MAD^global`` (``M`` all ones). Computed over blocks of ``chunk_rows`` target rows.
    """
    ids = _target_ids(h, targets)
    rows = chunk_rows or auto_chunk_rows(h.shape[0])
    values = []
    for start in range(0, ids.numel(), rows):
        block = ids[start : start + rows]
        dist = cosine_distance(h[block], h, block)
        rows_mask = None if mask is None else mask(start, start + block.numel())
        values.append(node_mean_distance(dist, rows_mask))
    return mean_of_nonzero(torch.cat(values)) if values else h.new_zeros(())


def mad_dense(h: Tensor, mask: Tensor | None = None, targets: Tensor | None = None) -> Tensor:
    """Eq. 1-4 the straightforward way: the full ``N x N`` distance and mask matrices at once."""
    dist = cosine_distance(h, h, torch.arange(h.shape[0], device=h.device))
    node_values = node_mean_distance(dist, mask)
    return mean_of_nonzero(node_values[_target_ids(h, targets)])


@dataclass
class HopRelation:
    """Which pairs count as neighbour and remote in MADGap (Eq. 5 and its setting).

    Neighbour: ``1 <= hops <= neighbour_hops``; remote: ``hops >= remote_hops``. The official
    code takes both masks as given; a pair in different connected components has infinite hop
    distance, so with ``unreachable_as_remote`` (default) it is remote, as the "hops >= 8"
    definition reads.
    """

    neighbour_hops: int = 3
    remote_hops: int = 8
    unreachable_as_remote: bool = True

    @property
    def search_depth(self) -> int | None:
        """How far the BFS must go to tell the two relations apart."""
        if self.unreachable_as_remote:
            return max(self.neighbour_hops, self.remote_hops - 1)
        return None

    def neighbour(self, dist: Tensor) -> Tensor:
        return (dist >= 1) & (dist <= self.neighbour_hops)

    def remote(self, dist: Tensor) -> Tensor:
        reachable_far = (dist >= self.remote_hops) & (dist != UNREACHED)
        if self.unreachable_as_remote:
            return reachable_far | (dist == UNREACHED)
        return reachable_far


class HopMasks:
    """Neighbour / remote mask rows of a graph for a fixed set of target nodes.

    The hop distances of the target rows are computed once and kept when they fit in
    ``cache_bytes`` (uint8, ``len(targets) x N``); otherwise each block is searched again on use.
    """

    def __init__(
        self,
        edge_index: Tensor,
        num_nodes: int,
        targets: Tensor | None = None,
        relation: HopRelation | None = None,
        cache_bytes: int = 2**30,
    ) -> None:
        self.adjacency = undirected_adjacency(edge_index, num_nodes)
        self.num_nodes = num_nodes
        device = edge_index.device
        all_nodes = torch.arange(num_nodes, device=device)
        self.targets = all_nodes if targets is None else _target_ids(all_nodes, targets)
        self.relation = relation or HopRelation()
        self._cache: Tensor | None = None
        if self.targets.numel() * num_nodes <= cache_bytes:
            self._cache = self._search(0, self.targets.numel())

    def _search(self, start: int, stop: int) -> Tensor:
        sources = self.targets[start:stop]
        return hop_distances(self.adjacency, sources, self.relation.search_depth)

    def distances(self, start: int, stop: int) -> Tensor:
        """uint8 hop distances ``[stop - start, N]`` of targets[start:stop]."""
        if self._cache is not None:
            return self._cache[start:stop]
        return self._search(start, stop)

    def neighbour(self, start: int, stop: int) -> Tensor:
        return self.relation.neighbour(self.distances(start, stop))

    def remote(self, start: int, stop: int) -> Tensor:
        return self.relation.remote(self.distances(start, stop))

    def dense(self) -> tuple[Tensor, Tensor]:
        """Full ``[N, N]`` neighbour and remote masks (rows outside ``targets`` all False)."""
        dist = self.distances(0, self.targets.numel())
        shape = (self.num_nodes, self.num_nodes)
        neighbour = torch.zeros(shape, dtype=torch.bool, device=dist.device)
        remote = torch.zeros_like(neighbour)
        neighbour[self.targets] = self.relation.neighbour(dist)
        remote[self.targets] = self.relation.remote(dist)
        return neighbour, remote


@dataclass
class MadGap:
    """``gap = remote - neighbour`` (Eq. 5) with its two MAD terms, as 0-d tensors."""

    gap: Tensor
    neighbour: Tensor
    remote: Tensor


def mad_gap(h: Tensor, masks: HopMasks, chunk_rows: int | None = None) -> MadGap:
    """Eq. 5: ``MADGap = MAD^rmt - MAD^neb`` over ``masks.targets``, one distance block shared."""
    ids = masks.targets
    rows = chunk_rows or auto_chunk_rows(h.shape[0])
    neighbour_values, remote_values = [], []
    for start in range(0, ids.numel(), rows):
        stop = min(start + rows, ids.numel())
        block = ids[start:stop]
        dist = cosine_distance(h[block], h, block)
        hops = masks.distances(start, stop)
        neighbour_values.append(node_mean_distance(dist, masks.relation.neighbour(hops)))
        remote_values.append(node_mean_distance(dist, masks.relation.remote(hops)))
    neighbour = mean_of_nonzero(torch.cat(neighbour_values))
    remote = mean_of_nonzero(torch.cat(remote_values))
    return MadGap(gap=remote - neighbour, neighbour=neighbour, remote=remote)


def mad_reg_loss(task_loss: Tensor, h: Tensor, masks: HopMasks, weight: float = 0.01) -> Tensor:
    """MADReg objective: ``L = task_loss - weight * MADGap(h)`` on ``masks.targets`` (MADReg)."""
    return task_loss - weight * mad_gap(h, masks).gap
