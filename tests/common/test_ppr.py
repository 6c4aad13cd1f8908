"""Personalized PageRank on the shared Â: sparse power-iteration rows against the dense inverse
(ReNode Sec. 3.1), the transposed operator, and the on-disk cache."""

import pytest
import torch

from common.graph import ppr
from common.graph.adjacency import normalized_adjacency


def random_graph(num_nodes: int, num_edges: int, seed: int, undirected: bool = True):
    gen = torch.Generator().manual_seed(seed)
    edges = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    edges = edges[:, edges[0] != edges[1]]
    return torch.cat([edges, edges.flip(0)], 1) if undirected else edges


def test_ppr_base_matches_hand_values():
    edges = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    adj = normalized_adjacency(edges, 3, torch.float64, layout="csr").to_dense()
    d = torch.tensor([2.0, 3.0, 2.0], dtype=torch.float64)
    a_hat = torch.tensor([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=torch.float64)
    assert torch.allclose(adj, a_hat / d.sqrt().outer(d.sqrt()))


@pytest.mark.parametrize("undirected", [True, False])
def test_transposed_adjacency_is_the_exact_transpose(undirected):
    edges = random_graph(40, 90, seed=5, undirected=undirected)
    dense = normalized_adjacency(edges, 40).to_dense()
    adj_t = ppr.transposed_adjacency(edges, 40)
    assert adj_t.layout == torch.sparse_csr
    assert torch.equal(adj_t.to_dense(), dense.T)
    if undirected:
        assert torch.equal(adj_t.to_dense(), dense)


def test_dense_ppr_solves_the_defining_equation():
    edges = random_graph(50, 120, seed=0)
    alpha = 0.15
    pi = ppr.dense_ppr(edges, 50, alpha, dtype=torch.float64)
    adj = normalized_adjacency(edges, 50, torch.float64).to_dense()
    lhs = pi @ (torch.eye(50, dtype=torch.float64) - (1 - alpha) * adj)
    assert torch.allclose(lhs, alpha * torch.eye(50, dtype=torch.float64), atol=1e-10)


@pytest.mark.parametrize("undirected", [True, False])
def test_power_rows_equal_dense_inverse_on_cora_sized_graph(undirected):
    n = 2708
    edges = random_graph(n, 5278, seed=1, undirected=undirected)
    nodes = torch.randperm(n, generator=torch.Generator().manual_seed(2))[:140]
    dense = ppr.dense_ppr(edges, n, 0.15)
    rows = ppr.ppr_rows(edges, n, nodes, 0.15, chunk_size=64)
    assert (rows - dense[nodes]).abs().max().item() < 1e-5


def test_cache_reuses_stored_rows(tmp_path, monkeypatch):
    edges = random_graph(40, 80, seed=3)
    nodes = torch.tensor([1, 5, 7])
    first = ppr.cached_ppr_rows(edges, 40, nodes, cache_dir=tmp_path, dataset="toy")
    dense = ppr.cached_ppr_rows(edges, 40, nodes, method="dense", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.pt"))) == 2

    def fail(*args, **kwargs):
        raise AssertionError("cache miss")

    monkeypatch.setattr(ppr, "ppr_rows", fail)
    monkeypatch.setattr(ppr, "dense_ppr", fail)
    assert torch.equal(
        ppr.cached_ppr_rows(edges, 40, nodes, cache_dir=tmp_path, dataset="toy"), first
    )
    other = torch.tensor([0, 2])
    from_dense = ppr.cached_ppr_rows(edges, 40, other, method="dense", cache_dir=tmp_path)
    assert from_dense.shape == (2, 40)
    assert (first - dense).abs().max().item() < 1e-5


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="unknown PPR method 'exact'"):
        ppr.cached_ppr_rows(random_graph(10, 20, seed=6), 10, torch.tensor([0]), method="exact")


def test_graph_hash_changes_with_edges():
    edges = random_graph(30, 60, seed=4)
    assert ppr.graph_hash(edges, 30) != ppr.graph_hash(edges[:, 1:], 30)
    assert ppr.graph_hash(edges, 30) != ppr.graph_hash(edges, 31)
