"""Full-batch node classification on one graph with the shared Trainer: the glue MADGap and
ReNode share (one "batch" is the whole graph; the paper supplies the loss and the evaluation)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from common.training import FitResult, Trainer

if TYPE_CHECKING:
    from common.context import RunContext


def masked_accuracy(logits: Tensor, labels: Tensor, mask: Tensor) -> float:
    """Accuracy of ``argmax(logits)`` on the nodes selected by ``mask`` (bool or indices)."""
    return float((logits[mask].argmax(1) == labels[mask]).float().mean())


def fit_full_batch(
    ctx: RunContext,
    *,
    name: str,
    model: torch.nn.Module,
    loss_fn: Callable[[torch.nn.Module], Tensor],
    evaluate: Callable[[torch.nn.Module], Mapping[str, float]] | None = None,
    **trainer_kwargs: Any,
) -> FitResult:
    """Train ``model`` full-batch with ``cfg.trainer`` / ``cfg.optim`` / ``cfg.schedule``: one
    optimizer step per epoch on ``loss_fn(model)``; ``trainer_kwargs`` are ``TrainerConfig``
    overrides or ``Trainer.from_context`` arguments (``optimizer``, ``params``, ``callbacks``)."""
    trainer = Trainer.from_context(
        ctx,
        name=name,
        model=model,
        loss_fn=lambda m, _: loss_fn(m),
        train_data=[None],
        evaluate=evaluate,
        **trainer_kwargs,
    )
    return trainer.fit()
