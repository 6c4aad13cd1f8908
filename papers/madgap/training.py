"""Node classification on one graph with the shared zoo and Trainer (the glue all five
MADGap experiments share): build a GNN of a given depth, train it on the public split, and
hand back its per-layer representations."""

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
from common.training import Trainer

ExtraLoss = Callable[[Tensor, list[Tensor]], Tensor]
"""``extra(task_loss, hidden) -> total loss`` (MADReg plugs in here)."""


@dataclass(frozen=True)
class Optim:
    """Adam settings of the GCN recipe (Kipf & Welling 2017) that the paper trains with."""

    lr: float = 0.01
    weight_decay: float = 5e-4


@dataclass
class Trained:
    """A trained model with its test metrics and the representation of every layer."""

    model: torch.nn.Module
    metrics: dict[str, float]
    hidden: list[Tensor]
    probs: Tensor


def load_graph(ctx: RunContext) -> Data:
    """The run's graph (``cfg.data``) on the run's device, edges symmetric and duplicate-free."""
    data = hydra.utils.instantiate(ctx.cfg.data)
    data.edge_index = to_undirected_unique(data.edge_index, data.num_nodes)
    return data.to(ctx.device)


def accuracy(logits: Tensor, labels: Tensor, mask: Tensor) -> float:
    return float((logits[mask].argmax(1) == labels[mask]).float().mean())


def build_model(ctx: RunContext, data: Data, num_layers: int) -> torch.nn.Module:
    """``cfg.model`` (the zoo) with ``num_layers`` layers.

    Torch is reseeded with the run's seed first, so every model of a run starts from the same
    random state: with and without MADReg, before and after AdaEdge differ only by the method.
    """
    torch.manual_seed(ctx.seed)
    model = hydra.utils.instantiate(
        ctx.cfg.model, in_dim=data.num_features, out_dim=num_classes(data), num_layers=num_layers
    )
    return model.to(ctx.device)


def train_node_classifier(
    ctx: RunContext,
    data: Data,
    num_layers: int,
    name: str,
    edge_index: Tensor | None = None,
    extra_loss: ExtraLoss | None = None,
    optim: Optim | None = None,
) -> Trained:
    """Train ``cfg.model`` at depth ``num_layers`` on ``edge_index`` (default the data's);
    the best validation-accuracy state is restored (``cfg.trainer``)."""
    optim = optim or Optim()
    edges = data.edge_index if edge_index is None else edge_index
    model = build_model(ctx, data, num_layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)

    def loss_fn(model: torch.nn.Module, _: Data) -> Tensor:
        logits, hidden = model(data.x, edges, return_hidden=True)
        loss = F.cross_entropy(logits[data.train_mask], data.y[data.train_mask])
        return loss if extra_loss is None else extra_loss(loss, hidden)

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        logits = model(data.x, edges)
        val_loss = F.cross_entropy(logits[data.val_mask], data.y[data.val_mask])
        return {
            "val/loss": float(val_loss),
            "val/acc": accuracy(logits, data.y, data.val_mask),
            "test/acc": accuracy(logits, data.y, data.test_mask),
        }

    trainer = Trainer.from_context(
        ctx,
        name=name,
        model=model,
        optimizer=optimizer,
        loss_fn=loss_fn,
        train_data=[data],
        evaluate=evaluate,
        log=False,
    )
    result = trainer.fit()
    model.eval()
    with torch.no_grad():
        logits, hidden = model(data.x, edges, return_hidden=True)
    metrics = {**result.best_metrics, "best_epoch": float(result.best_epoch)}
    return Trained(model=model, metrics=metrics, hidden=hidden, probs=logits.softmax(dim=1))
