"""MAD / MADGap / hop masks / MADReg against hand values and independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path
from sklearn.metrics import pairwise_distances

from papers.madgap.mad import (
    HopMasks,
    HopRelation,
    cosine_distance,
    mad,
    mad_dense,
    mad_gap,
    mad_reg_loss,
)

FOUR_NODES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
PATH = torch.tensor([[0, 1, 2], [1, 2, 3]])


def test_mad_global_four_nodes_by_hand():
    # D01=1, D02=1-1/sqrt2, D03=2, D12=1-1/sqrt2, D13=1, D23=1+1/sqrt2 -> (14 - sqrt2) / 12
    assert mad(FOUR_NODES).item() == pytest.approx((14 - math.sqrt(2)) / 12, abs=1e-6)
    assert mad_dense(FOUR_NODES).item() == pytest.approx((14 - math.sqrt(2)) / 12, abs=1e-6)


def test_mad_one_hop_mask_on_path_by_hand():
    neighbour, _ = HopMasks(PATH, 4, relation=HopRelation(neighbour_hops=1)).dense()
    # rows: 1, (1 + 1 - 1/sqrt2) / 2, (1 - 1/sqrt2 + 1 + 1/sqrt2) / 2, 1 + 1/sqrt2
    expected = 1 + 1 / (8 * math.sqrt(2))
    assert mad_dense(FOUR_NODES, neighbour).item() == pytest.approx(expected, abs=1e-6)


def test_rows_without_pairs_and_zero_distances_are_not_counted():
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[0, 1] = mask[1, 0] = True  # rows 2, 3 have no pair: Eq. 4 averages rows 0, 1 only
    assert mad_dense(FOUR_NODES, mask).item() == pytest.approx(1.0)
    parallel = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    # row 0: D01 = 0 is not counted by Eq. 3, so its mean is D02 = 1, not 1/2
    assert cosine_distance(parallel, parallel, torch.arange(3))[0, 1] == 0
    dense = mad_dense(parallel, targets=torch.tensor([0]))
    assert dense.item() == pytest.approx(1.0)


def reference_mad(h: np.ndarray, mask: np.ndarray, targets: np.ndarray) -> float:
    """Eq. 1-4 with sklearn's cosine distance, written independently of the module."""
    masked = pairwise_distances(h, h, metric="cosine") * mask
    np.fill_diagonal(masked, 0.0)
    masked[np.abs(masked) < 1e-12] = 0.0
    count = (masked > 0).sum(1)
    node = np.where(count > 0, masked.sum(1) / np.maximum(count, 1), 0.0)[targets]
    return float(node.sum() / max((node > 0).sum(), 1))


def random_graph(num_nodes: int, num_edges: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_nodes, (2, num_edges), generator=gen)


def reference_hops(edge_index: torch.Tensor, num_nodes: int) -> np.ndarray:
    """All-pairs hop counts from scipy's shortest paths (independent of the sparse BFS); -1
    where unreachable."""
    src, dst = edge_index.numpy()
    graph = coo_matrix((np.ones(src.size), (src, dst)), shape=(num_nodes, num_nodes))
    dist = shortest_path(graph, directed=False, unweighted=True)
    return np.where(np.isinf(dist), -1, dist).astype(int)


@pytest.mark.parametrize("unreachable_as_remote", [True, False])
def test_hop_masks_follow_reference_distances(unreachable_as_remote):
    num_nodes = 120
    edges = random_graph(num_nodes, 130, seed=2)
    expected = reference_hops(edges, num_nodes)
    relation = HopRelation(3, 8, unreachable_as_remote)
    targets = torch.arange(0, num_nodes, 3)
    neighbour, remote = HopMasks(edges, num_nodes, targets, relation, cache_bytes=0).dense()
    rows = targets.numpy()
    ref_remote = expected >= 8
    if unreachable_as_remote:
        ref_remote |= expected < 0
    ref_neighbour = (expected >= 1) & (expected <= 3)
    np.testing.assert_array_equal(neighbour[rows].numpy(), ref_neighbour[rows])
    np.testing.assert_array_equal(remote[rows].numpy(), ref_remote[rows])
    assert not neighbour[1].any() and not remote[1].any()


def test_chunked_mad_and_gap_equal_dense_and_reference():
    num_nodes = 150
    edges = random_graph(num_nodes, 200, seed=3)
    h = torch.randn(num_nodes, 8, generator=torch.Generator().manual_seed(0))
    h[5] = 0.0  # a zero row (distance 1 to everything, as sklearn)
    targets = torch.arange(0, num_nodes, 2)
    masks = HopMasks(edges, num_nodes, targets, cache_bytes=0)
    neighbour, remote = masks.dense()
    chunked = mad_gap(h, masks, chunk_rows=7)
    assert chunked.neighbour.item() == pytest.approx(mad_dense(h, neighbour, targets).item())
    assert chunked.remote.item() == pytest.approx(mad_dense(h, remote, targets).item())
    ref = reference_mad(h.numpy(), remote.numpy().astype(float), targets.numpy())
    assert chunked.remote.item() == pytest.approx(ref, abs=1e-5)
    assert mad(h, chunk_rows=11).item() == pytest.approx(mad_dense(h).item())
    ones = np.ones((num_nodes, num_nodes))
    assert mad(h, chunk_rows=11).item() == pytest.approx(
        reference_mad(h.numpy(), ones, np.arange(num_nodes)), abs=1e-5
    )
    masked = mad(h, targets, masks.remote, chunk_rows=9)
    assert masked.item() == pytest.approx(chunked.remote.item())


def test_mad_gap_gradient_matches_finite_differences():
    num_nodes = 30
    edges = random_graph(num_nodes, 32, seed=4)
    masks = HopMasks(edges, num_nodes, torch.arange(0, num_nodes, 4))
    h = torch.randn(num_nodes, 4, dtype=torch.float64, requires_grad=True)
    gap = mad_gap(h, masks).gap
    assert gap.item() != 0.0
    assert torch.autograd.gradcheck(lambda x: mad_gap(x, masks, chunk_rows=3).gap, (h,))


def test_mad_reg_gradient_reaches_the_model():
    num_nodes = 60
    edges = random_graph(num_nodes, 80, seed=5)
    masks = HopMasks(edges, num_nodes, torch.arange(10))
    layer = torch.nn.Linear(6, 4)
    x = torch.randn(num_nodes, 6)
    hidden = layer(x)
    task = torch.nn.functional.cross_entropy(hidden[:10], torch.zeros(10, dtype=torch.long))
    loss = mad_reg_loss(task, hidden, masks, weight=0.5)
    assert loss.item() == pytest.approx(task.item() - 0.5 * mad_gap(hidden, masks).gap.item())
    (grad_with,) = torch.autograd.grad(loss, layer.weight, retain_graph=True)
    (grad_task,) = torch.autograd.grad(task, layer.weight)
    assert torch.isfinite(grad_with).all()
    assert (grad_with - grad_task).abs().max() > 1e-6
