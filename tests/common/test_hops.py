"""Hop distances of the multi-source sparse BFS against a plain queue BFS."""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from common.graph.adjacency import undirected_adjacency
from common.graph.hops import UNREACHED, hop_distances


def random_graph(num_nodes: int, num_edges: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_nodes, (2, num_edges), generator=gen)


def reference_bfs(edge_index: torch.Tensor, num_nodes: int) -> np.ndarray:
    """All-pairs hop counts by one queue BFS per source; -1 where unreachable."""
    neighbours: list[set[int]] = [set() for _ in range(num_nodes)]
    for a, b in edge_index.T.tolist():
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    dist = np.full((num_nodes, num_nodes), -1)
    for source in range(num_nodes):
        dist[source, source] = 0
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for nxt in neighbours[node]:
                if dist[source, nxt] < 0:
                    dist[source, nxt] = dist[source, node] + 1
                    queue.append(nxt)
    return dist


def test_hop_distances_equal_reference_bfs():
    num_nodes = 120
    edges = random_graph(num_nodes, 130, seed=1)  # sparse: long paths and several components
    expected = reference_bfs(edges, num_nodes)
    assert (expected < 0).any() and expected.max() >= 8
    got = hop_distances(undirected_adjacency(edges, num_nodes), torch.arange(num_nodes)).numpy()
    got = np.where(got == UNREACHED, -1, got.astype(int))
    np.testing.assert_array_equal(got, expected)


def test_max_hops_stops_the_search_and_sources_may_be_a_subset():
    path = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])  # 0 - 1 - 2 - 3 - 4
    adjacency = undirected_adjacency(path, 5)
    got = hop_distances(adjacency, torch.tensor([2, 0]), max_hops=2)
    assert got.dtype == torch.uint8
    assert got.tolist() == [[2, 1, 0, 1, 2], [0, 1, 2, UNREACHED, UNREACHED]]
