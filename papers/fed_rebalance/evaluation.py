"""Balanced-test-set accuracy overall and over head / medium / tail class groups, and the
per-round report both engines' callers share (the experiment and Flower's deployment ServerApp)."""

from __future__ import annotations

import torch
from torch import nn

from papers.fed_rebalance.federated import FedServer
from papers.fed_rebalance.fedsetup import FedSetup
from papers.fed_rebalance.local import Preprocess
from papers.fed_rebalance.settings import Federation


@torch.no_grad()
def per_class_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    prep: Preprocess,
    num_classes: int,
    batch_size: int = 1000,
) -> torch.Tensor:
    """Accuracy of each class on (x, y), in eval mode."""
    model.eval()
    correct = torch.zeros(num_classes)
    total = torch.zeros(num_classes)
    for start in range(0, len(y), batch_size):
        pred = model(prep(x[start : start + batch_size])).argmax(1).cpu()
        yb = y[start : start + batch_size]
        correct += torch.bincount(yb[pred == yb], minlength=num_classes).float()
        total += torch.bincount(yb, minlength=num_classes).float()
    return correct / total.clamp(min=1)


def group_accuracy(per_class: torch.Tensor, groups: list[int]) -> dict[str, float]:
    """Mean accuracy over consecutive class groups (classes are sorted from head to tail), e.g.
    [3, 4, 3] -> head = classes 0-2, medium = 3-6, tail = 7-9; ``all`` is the mean over classes
    (= overall accuracy on a balanced test set)."""
    names = ["head", "medium", "tail"]
    out = {"all": float(per_class.mean())}
    start = 0
    for name, size in zip(names, groups, strict=True):
        out[name] = float(per_class[start : start + size].mean())
        start += size
    return out


def evaluate(server: FedServer, setup: FedSetup, groups: list[int]) -> dict[str, float]:
    """Balanced test accuracy of the server's evaluation model: overall, head, medium, tail."""
    model = server.method.eval_model(server.model)
    acc = per_class_accuracy(model, setup.test_x, setup.test_y, setup.prep, setup.num_classes)
    return {f"test/{k}_acc": v for k, v in group_accuracy(acc, groups).items()}


def round_report(
    r: int, server: FedServer, setup: FedSetup, fed: Federation, metrics: dict[str, float]
) -> dict[str, float]:
    """Round ``r``'s training metrics, plus the test accuracies every ``fed.eval_every`` rounds
    and after the last round."""
    last = r == fed.rounds - 1
    if last or (fed.eval_every and (r + 1) % fed.eval_every == 0):
        return {**metrics, **evaluate(server, setup, fed.groups)}
    return dict(metrics)
