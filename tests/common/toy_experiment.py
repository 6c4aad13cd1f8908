"""A tiny experiment that exercises the core (seeding, trainer, tracker) in tests."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from common.context import RunContext
from common.params import check_choice, check_positive
from common.training import Trainer


def run_toy(ctx: RunContext, n: int = 128, epochs: int = 6, fail_at: int | None = None) -> dict:
    """Logistic regression on a random linear problem drawn from the run's generator."""
    g = ctx.generator
    x = torch.randn(n, 5, generator=g)
    y = (x @ torch.randn(5, generator=g) > 0).long()
    model = torch.nn.Linear(5, 2)
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, n, 32)]
    calls = {"epochs": 0}

    def loss_fn(m, batch):
        if fail_at is not None and calls["epochs"] >= fail_at:
            raise RuntimeError("interrupted")
        return F.cross_entropy(m(batch[0]), batch[1])

    def evaluate(m):
        calls["epochs"] += 1
        return {"val/acc": (m(x).argmax(1) == y).float().mean().item()}

    trainer = Trainer.from_context(
        ctx, name="toy", model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.5),
        loss_fn=loss_fn, train_data=batches, evaluate=evaluate, max_epochs=epochs,
        monitor="val/acc", checkpoint_every=2,
    )
    result = trainer.fit()
    return {"val/acc": result.best_metrics["val/acc"], "epochs": result.epochs,
            "weight_sum": float(model.weight.detach().sum())}


@dataclass
class ToyTask:
    """Typed parameters of :func:`run_typed`."""

    n: int = 64
    loss: str = "ce"

    def __post_init__(self) -> None:
        check_positive("n", self.n)
        check_choice("loss", self.loss, ["ce", "focal"])


def run_typed(ctx: RunContext, task: ToyTask) -> dict:
    """Echo the validated parameters."""
    return {"n": task.n, "focal": float(task.loss == "focal")}
