"""AdaEdge edits and the oracle topology edits on toy graphs with hand-derived answers."""

from __future__ import annotations

import torch

from papers.madgap.adagraph import EdgeEditConfig, adjust_edges, undirected_pairs
from papers.madgap.topology import add_random_edges, inter_class, remove_inter_class_edges

# predicted class 0: nodes 0, 1, 2; class 1: nodes 3, 4, 5. Confidence per node:
CONFIDENCE = torch.tensor([0.95, 0.99, 0.60, 0.97, 0.93, 0.91])
PREDICTED = torch.tensor([0, 0, 0, 1, 1, 1])
EDGES = torch.tensor([[0, 1, 2, 3, 4, 0, 1], [1, 2, 3, 4, 5, 5, 4]])


def toy_probs() -> torch.Tensor:
    probs = torch.zeros(6, 2)
    probs[torch.arange(6), PREDICTED] = CONFIDENCE
    probs[torch.arange(6), 1 - PREDICTED] = 1 - CONFIDENCE
    return probs


def pair_set(pairs: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, pairs.T.tolist()))


def test_adaedge_removes_and_adds_the_expected_edges():
    config = EdgeEditConfig(remove_threshold=0.9, add_threshold=0.9, max_remove=5, max_add=5)
    edit = adjust_edges(both := torch.cat([EDGES, EDGES.flip(0)], 1), toy_probs(), config)
    # inter-class edges: (2,3) has a 0.60 endpoint -> kept; (0,5) and (1,4) are removed.
    # same-class non-edges with both endpoints >= 0.9: (3,5) only ((0,1), (3,4), (4,5) exist,
    # node 2 is not confident).
    assert pair_set(edit.removed) == {(1, 4), (0, 5)}
    assert pair_set(edit.added) == {(3, 5)}
    expected = {(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (3, 5)}
    assert pair_set(undirected_pairs(edit.edge_index)) == expected
    assert edit.edge_index.shape[1] == 2 * len(expected)
    assert both.shape[1] == 14


def test_adaedge_caps_and_orders_by_pair_confidence():
    config = EdgeEditConfig(remove_threshold=0.9, add_threshold=0.9, max_remove=1, max_add=0)
    edit = adjust_edges(EDGES, toy_probs(), config)
    assert pair_set(edit.removed) == {(1, 4)}  # min confidence 0.93 beats (0,5)'s 0.91
    assert edit.added.shape[1] == 0
    nothing = adjust_edges(EDGES, toy_probs(), EdgeEditConfig(max_remove=0, max_add=0))
    assert pair_set(undirected_pairs(nothing.edge_index)) == pair_set(undirected_pairs(EDGES))


def test_adaedge_adds_most_confident_pairs_first():
    probs = torch.zeros(5, 2)
    probs[:, 0] = torch.tensor([0.99, 0.98, 0.97, 0.96, 0.95])
    probs[:, 1] = 1 - probs[:, 0]
    config = EdgeEditConfig(add_threshold=0.9, max_add=3)
    edit = adjust_edges(torch.tensor([[0], [1]]), probs, config)
    # (0,1) exists; next by the smaller confidence: (0,2), (1,2) at 0.97, then (0,3) at 0.96
    assert edit.added.T.tolist() == [[0, 2], [1, 2], [0, 3]]


def test_oracle_edits_touch_only_the_requested_kind():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (200,), generator=gen)
    edges = torch.randint(0, 200, (2, 600), generator=gen)
    pairs = undirected_pairs(edges)
    inter = inter_class(pairs, labels)
    none_left = undirected_pairs(remove_inter_class_edges(edges, labels, 1.0, gen))
    assert not inter_class(none_left, labels).any()
    assert none_left.shape[1] == int((~inter).sum())
    half = undirected_pairs(remove_inter_class_edges(edges, labels, 0.5, gen))
    assert half.shape[1] == pairs.shape[1] - round(0.5 * int(inter.sum()))
    for same_class in (False, True):
        grown = undirected_pairs(add_random_edges(edges, labels, 0.3, gen, same_class))
        new = pair_set(grown) - pair_set(pairs)
        assert len(new) == round(0.3 * pairs.shape[1])
        assert pair_set(pairs) <= pair_set(grown)
        new_pairs = torch.tensor(sorted(new)).T
        assert (inter_class(new_pairs, labels) != same_class).all()
