"""Analytic classifier gradients (RedGrape Eq. 4) and server prototype averaging."""

import torch

from common.seeding import seeded
from papers.fed_rebalance.prototypes import (
    GradientPrototypes,
    aggregate_prototypes,
    ce_classifier_gradients,
    class_gradient_sums,
    prototypes_from_sums,
)


def test_analytic_prototype_equals_autograd():
    n, d, c = 12, 5, 4
    with seeded(0):
        h = torch.randn(n, d, dtype=torch.float64)
        layer = torch.nn.Linear(d, c).double()
    y = torch.tensor([0, 1, 1, 2, 0, 0, 1, 2, 2, 2, 0, 1])
    logits = layer(h)
    protos = prototypes_from_sums(*class_gradient_sums(h, logits.detach(), y, c))
    gw_one, gb_one = ce_classifier_gradients(h, logits.detach(), y)
    for k in range(c):
        mask = y == k
        if not mask.any():
            assert not protos.present[k]
            continue
        loss = torch.nn.functional.cross_entropy(layer(h[mask]), y[mask])
        gw, gb = torch.autograd.grad(loss, [layer.weight, layer.bias])
        torch.testing.assert_close(protos.weight[k], gw)
        torch.testing.assert_close(protos.bias[k], gb)
        torch.testing.assert_close(gw_one[mask].mean(0), gw)
        torch.testing.assert_close(gb_one[mask].mean(0), gb)
    assert protos.present.tolist() == [True, True, True, False]


def _protos(value: float, present: list[bool], c: int = 3, d: int = 2) -> GradientPrototypes:
    mask = torch.tensor(present)
    w = torch.full((c, c, d), value) * mask.view(-1, 1, 1)
    b = torch.full((c, c), value) * mask.view(-1, 1)
    return GradientPrototypes(w, b, mask)


def test_server_averaging_with_missing_classes():
    a = _protos(1.0, [True, True, False])
    b = _protos(3.0, [True, False, False])
    prev = _protos(7.0, [False, True, True])
    out = aggregate_prototypes([a, b], prev)
    # class 0: both clients (unweighted mean 2); class 1: client a only (1); class 2: nobody
    # reported it, the previous value 7 is kept
    assert out.present.tolist() == [True, True, True]
    assert torch.all(out.weight[0] == 2.0) and torch.all(out.bias[0] == 2.0)
    assert torch.all(out.weight[1] == 1.0)
    assert torch.all(out.weight[2] == 7.0) and torch.all(out.bias[2] == 7.0)
    first = aggregate_prototypes([a, b], None)
    assert first.present.tolist() == [True, True, False]
    assert torch.all(first.weight[2] == 0.0)


def test_wire_form_carries_present_rows_only_and_round_trips():
    protos = prototypes_from_sums(*class_gradient_sums(
        torch.randn(6, 2), torch.randn(6, 3), torch.tensor([0, 0, 2, 2, 2, 0]), 3))
    arrays = protos.to_arrays("p")
    assert arrays["p.weight"].shape == (2, 3, 2) and arrays["p.bias"].shape == (2, 3)
    back = GradientPrototypes.from_arrays(arrays, "p")
    assert torch.equal(back.weight, protos.weight) and torch.equal(back.bias, protos.bias)
    assert torch.equal(back.present, protos.present)
    half = GradientPrototypes.from_arrays(protos.to_arrays("p", torch.float16), "p")
    assert half.weight.dtype == torch.float32
    torch.testing.assert_close(half.weight, protos.weight, atol=1e-3, rtol=1e-3)
