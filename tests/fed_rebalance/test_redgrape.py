"""RedGrape's g_bal combination (Eq. 7), rescaling, balanced subset and the full corrected step."""

import math

import torch

from common.seeding import seeded
from common.training import Callback, Trainer, TrainerConfig
from papers.fed_rebalance.local import FedNet, cross_entropy_loss
from papers.fed_rebalance.prototypes import GradientPrototypes
from papers.fed_rebalance.redgrape import (
    ClassifierCorrection,
    balanced_subset,
    combine_balanced_gradient,
    missing_class_mean,
    rescale_to_norm,
)


def test_combination_toy_case():
    # C = 4 classes, 1 local balanced class: g = (g_real * 1 + g_missing * 3) / 4
    g_real = (torch.full((4, 2), 4.0), torch.full((4,), 4.0))
    g_missing = (torch.zeros(4, 2), torch.full((4,), 8.0))
    w, b = combine_balanced_gradient(g_real, 1, g_missing, 4)
    assert torch.all(w == 1.0) and torch.all(b == 7.0)
    assert combine_balanced_gradient(g_real, 4, None, 4) is g_real
    assert combine_balanced_gradient(None, 0, g_missing, 4) is g_missing
    assert combine_balanced_gradient(None, 0, None, 4) is None


def test_missing_mean_uses_known_classes_the_client_lacks():
    w = torch.arange(3.0).view(3, 1, 1).expand(3, 3, 2).clone()
    b = torch.arange(3.0).view(3, 1).expand(3, 3).clone()
    protos = GradientPrototypes(w, b, torch.tensor([True, True, False]))
    mw, mb = missing_class_mean(protos, torch.tensor([True, False, False]))
    assert torch.all(mw == 1.0) and torch.all(mb == 1.0)  # only class 1 is known and missing
    assert missing_class_mean(protos, torch.tensor([True, True, False])) is None


def test_rescale_to_norm_per_tensor():
    g = (torch.tensor([[3.0, 4.0]]), torch.tensor([1.0, 0.0]))
    ref = (torch.tensor([[0.0, 10.0]]), torch.tensor([0.0, 2.0]))
    w, b = rescale_to_norm(g, ref)
    torch.testing.assert_close(w, torch.tensor([[6.0, 8.0]]))
    torch.testing.assert_close(b, torch.tensor([2.0, 0.0]))


def test_balanced_subset():
    y = torch.tensor([0] * 10 + [1] * 3 + [2] * 8)
    idx, mask = balanced_subset(y, 8, 4, torch.Generator().manual_seed(0))
    assert mask.tolist() == [True, False, True, False]
    assert torch.bincount(y[idx], minlength=4).tolist() == [8, 0, 8, 0]
    idx, mask = balanced_subset(y, None, 4, torch.Generator())
    assert len(idx) == 0 and not mask.any()


class _Linear(torch.nn.Module):
    """features = identity, so the classifier sees the inputs directly."""

    def __init__(self, d, c):
        super().__init__()
        self.feature_dim = d
        self.classifier = torch.nn.Linear(d, c)

    def features(self, x):
        return x

    def forward(self, x):
        return self.classifier(x)


def test_corrected_step_matches_hand_computation():
    """One Trainer step (SGD at lr, no clipping) with the correction callback: W moves by the
    main gradient plus lr * lambda * g_bal, g_bal rescaled to the main gradient's norm."""
    d, c, lr, lam = 3, 4, 0.5, 0.1
    with seeded(0):
        model = FedNet(_Linear(d, c), c)
        bal_x, bal_y = torch.randn(2, d), torch.tensor([0, 0])
        g_missing = (torch.randn(c, d), torch.randn(c))
        x, y = torch.randn(5, d), torch.tensor([0, 1, 2, 3, 0])
    w0, b0 = model.classifier.weight.detach().clone(), model.classifier.bias.detach().clone()
    hook = ClassifierCorrection(bal_x, bal_y, 1, g_missing, c, lam)
    grads = {}

    class KeepMainGradient(Callback):
        def after_backward(self, trainer):
            grads["w"] = trainer.model.classifier.weight.grad.clone()
            grads["b"] = trainer.model.classifier.bias.grad.clone()

    trainer = Trainer(
        TrainerConfig(max_epochs=1, log=False, progress=False, checkpoint_every=0),
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr),
        loss_fn=cross_entropy_loss,
        train_data=[(x, y)],
        callbacks=[KeepMainGradient(), hook],
    )
    trainer.fit()
    gw_main, gb_main = grads["w"], grads["b"]
    # hand: g_real by autograd on the balanced set, combined with weights 1/4 and 3/4
    layer = torch.nn.Linear(d, c)
    layer.weight.data.copy_(w0)
    layer.bias.data.copy_(b0)
    rw, rb = torch.autograd.grad(
        torch.nn.functional.cross_entropy(layer(bal_x), bal_y), [layer.weight, layer.bias]
    )
    gw = (rw * 1 + g_missing[0] * 3) / 4
    gb = (rb * 1 + g_missing[1] * 3) / 4
    gw = gw * gw_main.norm() / gw.norm()
    gb = gb * gb_main.norm() / gb.norm()
    torch.testing.assert_close(model.classifier.weight, w0 - lr * gw_main - lr * lam * gw)
    torch.testing.assert_close(model.classifier.bias, b0 - lr * gb_main - lr * lam * gb)
    assert math.isclose(float(hook.g[0].norm()), float(gw_main.norm()), rel_tol=1e-5)


def test_balanced_batch_gradient_equals_autograd_of_class_balanced_ce():
    """The batch variant of g_real: each kept class weighs equally, split over its samples."""
    from papers.fed_rebalance.prototypes import class_gradient_sums
    from papers.fed_rebalance.redgrape import balanced_batch_gradient

    d, c = 3, 4
    with seeded(0):
        layer = torch.nn.Linear(d, c).double()
        h = torch.randn(7, d, dtype=torch.float64)
    y = torch.tensor([0, 0, 0, 1, 2, 2, 3])
    mask = torch.tensor([True, False, True, True])
    gw, gb = balanced_batch_gradient(class_gradient_sums(h, layer(h).detach(), y, c), mask)
    per_class = [torch.nn.functional.cross_entropy(layer(h[y == k]), y[y == k]) for k in (0, 2, 3)]
    rw, rb = torch.autograd.grad(sum(per_class) / 3, [layer.weight, layer.bias])
    torch.testing.assert_close(gw, rw)
    torch.testing.assert_close(gb, rb)
    sums = class_gradient_sums(h, layer(h).detach(), y, c)
    assert balanced_batch_gradient(sums, torch.tensor([False, True, False, False])) is not None
    first3 = class_gradient_sums(h[:3], layer(h[:3]).detach(), y[:3], c)
    assert balanced_batch_gradient(first3, mask.logical_not()) is None


def test_local_pass_prototypes_are_the_last_epochs_batch_gradients():
    """PrototypeSums: class means of Eq. 4 over the last epoch's batches, each taken at the model
    of that batch's forward (checked against autograd on recorded h, W h)."""
    from papers.fed_rebalance.prototypes import class_gradient_sums, prototypes_from_sums
    from papers.fed_rebalance.redgrape import PrototypeSums, RecordingLoss

    d, c = 3, 4
    with seeded(0):
        model = FedNet(_Linear(d, c), c, supplementary=True)
        batches = [(torch.randn(5, d), torch.tensor([0, 1, 1, 3, 0])),
                   (torch.randn(4, d), torch.tensor([3, 3, 1, 0]))]
    loss = RecordingLoss()
    sums = PrototypeSums(loss, c)
    seen = []

    class Keep(Callback):
        def before_backward(self, trainer, _):
            if trainer.state.epoch == 1:
                f = loss.forward
                seen.append(class_gradient_sums(f.h, f.logits, f.y, c))

    Trainer(TrainerConfig(max_epochs=2, log=False, progress=False, checkpoint_every=0),
            model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss_fn=loss,
            train_data=batches, callbacks=[sums, Keep()]).fit()
    expected = prototypes_from_sums(*(a + b for a, b in zip(*seen, strict=True)))
    got = sums.prototypes()
    torch.testing.assert_close(got.weight, expected.weight)
    assert got.present.tolist() == [True, True, False, True]


def test_redgrape_refuses_unknown_cost_options():
    import pytest

    from common.params import ConfigError
    from papers.fed_rebalance.redgrape import RedGrape

    for key in ("prototypes_from", "real_gradient_from", "proto_dtype"):
        with pytest.raises(ConfigError, match=key):
            RedGrape(**{key: "nope"})
