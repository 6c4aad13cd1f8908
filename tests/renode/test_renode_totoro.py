"""Class influence, Totoro and ReNode weights (ReNode Sec. 3.1-3.2)."""

import math

import torch

from common.graph.ppr import dense_ppr
from papers.renode.totoro import (
    class_influence,
    conflict_rank,
    dataset_totoro,
    node_totoro,
    renode_weights,
)


def path_graph(n: int) -> torch.Tensor:
    src = torch.arange(n - 1)
    return torch.cat([torch.stack([src, src + 1]), torch.stack([src + 1, src])], 1)


def test_class_influence_is_the_class_mean_of_ppr_rows():
    rows = torch.tensor([[1.0, 0.0, 2.0], [3.0, 4.0, 0.0], [5.0, 1.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    expected = torch.tensor([[2.0, 5.0], [2.0, 1.0], [1.0, 1.0]])
    assert torch.allclose(class_influence(rows, labels, 2), expected)


def test_totoro_matches_a_loop_over_the_definition():
    gen = torch.Generator().manual_seed(0)
    rows = torch.rand(6, 9, generator=gen)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    influence = class_influence(rows, labels, 3)
    expected = []
    for v in range(6):
        total = 0.0
        for x in range(9):
            others = sum(influence[x, c].item() for c in range(3) if c != labels[v])
            total += rows[v, x].item() * others
        expected.append(total)
    got = node_totoro(rows, labels, 3)
    assert torch.allclose(got, torch.tensor(expected), atol=1e-6)
    assert math.isclose(dataset_totoro(rows, labels, 3), sum(expected) / 6, rel_tol=1e-6)


def test_boundary_node_has_the_highest_conflict():
    # path 0-1-2-3-4-5-6-7-8: class 0 on the left half, class 1 on the right half.
    edges = path_graph(9)
    labelled = torch.tensor([0, 2, 3, 6, 8])
    labels = torch.tensor([0, 0, 0, 1, 1])
    pi = dense_ppr(edges, 9, 0.15, dtype=torch.float64)
    t = node_totoro(pi[labelled], labels, 2)
    assert t.argmax().item() == 2  # node 3 touches the boundary at 4-5
    assert t[0] < t[1] < t[2]  # conflict grows toward the boundary within class 0
    assert t[4] < t[3]  # and within class 1


def test_rank_is_stable_and_ascending():
    t = torch.tensor([0.3, 0.1, 0.3, 0.2])
    assert conflict_rank(t).tolist() == [2, 0, 3, 1]


def test_renode_weights_end_points_monotone_and_symmetric():
    t = torch.rand(20, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    w = renode_weights(t, w_min=0.5, w_max=1.5)
    order = torch.argsort(t)
    sorted_w = w[order]
    assert math.isclose(sorted_w[0].item(), 1.5) and math.isclose(sorted_w[-1].item(), 0.5)
    assert torch.all(sorted_w[1:] <= sorted_w[:-1])
    assert torch.allclose(sorted_w + sorted_w.flip(0), torch.full_like(sorted_w, 2.0))
    rank5 = 0.5 + 0.5 * (1 + math.cos(5 * math.pi / 19))
    assert math.isclose(sorted_w[5].item(), rank5, rel_tol=1e-12)


def test_renode_weights_single_node_gets_w_max():
    assert renode_weights(torch.tensor([0.7]), 0.25, 2.0).tolist() == [2.0]
