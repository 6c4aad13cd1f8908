"""GLUE scores, operating points and the curve interpolation on hand-made values."""

import pytest
import torch

from papers.cascadebert.cost import head_flops, layer_flops
from papers.cascadebert.evaluation import Point, Shape, glue_scores, interpolate, point


def test_glue_scores_binary_f1_of_the_positive_class():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    labels = torch.tensor([0, 1, 0, 1])
    scores = glue_scores(probs, labels)
    assert scores["acc"] == 0.5
    assert scores["f1"] == pytest.approx(0.5)  # precision 1/2, recall 1/2
    assert "f1" not in glue_scores(torch.eye(3), torch.arange(3))


def test_point_speedups_by_hand():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    labels = torch.tensor([0, 1])
    p = point("cascade", "tau0.8", probs, labels, torch.tensor([2.0, 14.0]),
              torch.tensor([10.0, 30.0]), 12, torch.tensor([20.0, 20.0]), 10)
    assert p.speedup_layers == pytest.approx(24 / 16)
    assert p.speedup_flops == pytest.approx(40 / 40)
    assert p.metrics()["cascade/tau0.8/acc"] == 1.0


def test_shape_flops():
    shape = Shape(layers=2, hidden=4, intermediate=8, num_labels=2)
    tokens = torch.tensor([3, 5])
    want = [2 * layer_flops(t, 4, 8) + head_flops(4, 2) for t in (3, 5)]
    assert shape.flops(tokens, 2).tolist() == want


def _p(speedup, acc):
    return Point("m", "s", {"acc": acc}, speedup, speedup, 0.0)


def test_interpolate_between_neighbours_and_nan_outside():
    curve = [_p(3.0, 0.70), _p(1.0, 0.90), _p(2.0, 0.85)]
    assert interpolate(curve, 1.5) == pytest.approx(0.875)
    assert interpolate(curve, 3.0) == pytest.approx(0.70)
    assert interpolate(curve, 3.5) != interpolate(curve, 3.5)
