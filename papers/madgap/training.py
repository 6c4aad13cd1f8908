"""What MADGap adds to the shared full-batch loop (:func:`common.graph.node_classification.
fit_full_batch`): a zoo GNN of a chosen depth, an optional extra loss on its hidden layers (MADReg)
and the representation of every layer after training, which MAD and MADGap are measured on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import hydra
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from common.context import RunContext
from common.graph.data import num_classes, to_undirected_unique
from common.graph.node_classification import fit_full_batch, masked_accuracy
from common.seeding import seeded

ExtraLoss = Callable[[Tensor, list[Tensor]], Tensor]
"""``extra(task_loss, hidden) -> total loss`` (MADReg plugs in here)."""


@dataclass
class Trained:
    """A trained model's best-validation metrics, every layer's representation and the
    class probabilities (AdaEdge edits the graph from these)."""

    metrics: dict[str, float]
    hidden: list[Tensor]
    probs: Tensor


def load_graph(ctx: RunContext) -> Data:
    """The run's graph (``cfg.data``) on the run's device, edges symmetric and duplicate-free."""
    data = hydra.utils.instantiate(ctx.cfg.data)
    data.edge_index = to_undirected_unique(data.edge_index, data.num_nodes)
    return data.to(ctx.device)


def train_node_classifier(
    ctx: RunContext,
    data: Data,
    num_layers: int,
    name: str,
    edge_index: Tensor | None = None,
    extra_loss: ExtraLoss | None = None,
) -> Trained:
    """Train ``cfg.model`` with ``num_layers`` layers on ``edge_index`` (default the data's) with
    ``cfg.optim`` / ``cfg.trainer`` (weight decay on the layers ``cfg.model.weight_decay_layers``
    names); the final state, or the best validation-accuracy one when ``trainer.restore_best``.

    Seeds: the model is built and trained inside ``seeded(ctx.seed)``, so every model of a run
    starts from the same initial weights and dropout stream (with and without MADReg, before and
    after AdaEdge differ only by the method). It is the run seed itself, not a derived
    ``ctx.seed_for("init")``, because the regression pins were recorded that way.
    """
    edges = data.edge_index if edge_index is None else edge_index

    def loss_fn(model: torch.nn.Module) -> Tensor:
        logits, hidden = model(data.x, edges, return_hidden=True)
        loss = F.cross_entropy(logits[data.train_mask], data.y[data.train_mask])
        return loss if extra_loss is None else extra_loss(loss, hidden)

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        logits = model(data.x, edges)
        return {
            "val/loss": float(F.cross_entropy(logits[data.val_mask], data.y[data.val_mask])),
            "val/acc": masked_accuracy(logits, data.y, data.val_mask),
            "test/acc": masked_accuracy(logits, data.y, data.test_mask),
        }

    with seeded(ctx.seed):
        model = hydra.utils.instantiate(
            ctx.cfg.model,
            in_dim=data.num_features,
            out_dim=num_classes(data),
            num_layers=num_layers,
        ).to(ctx.device)
        result = fit_full_batch(ctx, name=name, model=model, loss_fn=loss_fn, evaluate=evaluate,
                                params=model.param_groups(ctx.cfg.optim.weight_decay))
    model.eval()
    with torch.no_grad():
        logits, hidden = model(data.x, edges, return_hidden=True)
    metrics = {**result.best_metrics, "best_epoch": float(result.best_epoch)}
    return Trained(metrics=metrics, hidden=hidden, probs=logits.softmax(dim=1))
