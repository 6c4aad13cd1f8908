"""The shared loop: early stopping, best-state restore, gradient accumulation, validation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from common.training import Trainer, TrainerConfig


def scripted_trainer(scores, **cfg):
    """A trainer whose evaluation returns ``scores`` in turn and records the weight each time."""
    model = torch.nn.Linear(1, 1)
    seen = []

    def evaluate(m):
        seen.append(m.weight.item())
        return {"val/acc": scores[len(seen) - 1]}

    trainer = Trainer(
        TrainerConfig(progress=False, checkpoint_every=0, **cfg), model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        loss_fn=lambda m, b: m(b).pow(2).mean(), train_data=[torch.ones(4, 1)],
        evaluate=evaluate,
    )
    return trainer, seen


def test_early_stopping_and_best_restore():
    scores = [0.1, 0.5, 0.4, 0.3, 0.2, 0.9, 0.9]
    trainer, seen = scripted_trainer(scores, max_epochs=7, monitor="val/acc", patience=3)
    result = trainer.fit()
    assert result.epochs == 5 and result.stopped_early
    assert result.best_epoch == 2 and result.best_metrics == {"val/acc": 0.5}
    assert trainer.model.weight.item() == pytest.approx(seen[1])


def test_min_epochs_delays_stopping():
    scores = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1]
    trainer, _ = scripted_trainer(scores, max_epochs=6, monitor="val/acc", patience=1,
                                  min_epochs=4)
    assert trainer.fit().epochs == 4


def test_mode_min():
    trainer, _ = scripted_trainer([3.0, 1.0, 2.0], max_epochs=3, monitor="val/acc", mode="min")
    assert trainer.fit().best_epoch == 2


def test_gradient_accumulation_equals_one_big_batch():
    torch.manual_seed(0)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    start = torch.nn.Linear(3, 2)

    def train(batches, accum):
        model = torch.nn.Linear(3, 2)
        model.load_state_dict(start.state_dict())
        Trainer(TrainerConfig(max_epochs=1, grad_accum=accum, progress=False,
                              checkpoint_every=0),
                model=model, optimizer=torch.optim.SGD(model.parameters(), lr=1.0),
                loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]), train_data=batches).fit()
        return model.weight.detach()

    whole = train([(x, y)], 1)
    halves = train([(x[:4], y[:4]), (x[4:], y[4:])], 2)
    torch.testing.assert_close(whole, halves)


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="max_epochz"):
        TrainerConfig.from_mapping({"max_epochz": 3})
    with pytest.raises(ValueError, match="monitor"):
        TrainerConfig(patience=3)
    trainer, _ = scripted_trainer([0.1], max_epochs=1, monitor="val/f1")
    with pytest.raises(KeyError, match="val/f1"):
        trainer.fit()
