"""Label splits of the two settings of Chen et al. 2021 (Sec. 4.1), as the official code draws them.

Nodes are visited in the order of Python's ``random.Random(seed).shuffle`` of ``range(N)`` (the
official permutation, so seed s gives the official split s). Training nodes are the first ones of
each class in that order. Validation nodes are, per the official code's set arithmetic, the
lowest-id remaining nodes of each class (``val_order="id"``); ``val_order="shuffled"`` takes them
in the shuffled order instead. Everything else is test.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

VAL_ORDERS = ("id", "shuffled")


@dataclass(frozen=True)
class Split:
    """Index sets (ascending node ids) of one split."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


def step_quotas(
    num_nodes: int,
    num_classes: int,
    labelling_ratio: float,
    imbalance_ratio: float,
    head_classes: Sequence[int],
) -> list[int]:
    """Per-class training sizes of the step quantity imbalance (TINL + QINL, Sec. 4.1).

    With h head and t tail classes, a tail class gets n = ⌊N · ratio / (t + h · ρ)⌋ labels and a
    head class ⌊n · ρ⌋, so the total is about N · ratio.
    """
    heads = set(head_classes) if len(head_classes) > 0 else set(range(num_classes // 2))
    base = int(
        num_nodes * labelling_ratio / (num_classes - len(heads) + len(heads) * imbalance_ratio)
    )
    return [int(base * imbalance_ratio) if c in heads else base for c in range(num_classes)]


def _take(order: Sequence[int], labels: list[int], quotas: list[int]) -> list[int]:
    taken, left = [], list(quotas)
    need = sum(quotas)
    for node in order:
        if left[labels[node]] > 0:
            left[labels[node]] -= 1
            taken.append(node)
            if len(taken) == need:
                return taken
    raise ValueError(f"not enough nodes to fill per-class quotas {quotas}")


def make_split(
    labels: torch.Tensor,
    train_quotas: Sequence[int],
    val_per_class: int,
    seed: int,
    val_order: str = "id",
) -> Split:
    """Draw a split with ``train_quotas[c]`` training and ``val_per_class`` validation nodes."""
    label_list = labels.tolist()
    order = list(range(len(label_list)))
    random.Random(seed).shuffle(order)
    train = _take(order, label_list, list(train_quotas))
    chosen = set(train)
    if val_order == "id":
        rest = [v for v in range(len(label_list)) if v not in chosen]
    elif val_order == "shuffled":
        rest = [v for v in order if v not in chosen]
    else:
        raise ValueError(f"val_order must be one of {VAL_ORDERS}, got {val_order!r}")
    val = _take(rest, label_list, [val_per_class] * len(train_quotas))
    chosen.update(val)
    test = [v for v in range(len(label_list)) if v not in chosen]
    return Split(torch.tensor(sorted(train)), torch.tensor(sorted(val)), torch.tensor(test))


def tinl_split(
    labels: torch.Tensor,
    num_classes: int,
    seed: int,
    train_per_class: int = 20,
    val_per_class: int = 30,
    val_order: str = "id",
) -> Split:
    """TINL-only setting: ``train_per_class`` labels in every class (Sec. 4.1)."""
    return make_split(labels, [train_per_class] * num_classes, val_per_class, seed, val_order)


def step_split(
    labels: torch.Tensor,
    num_classes: int,
    seed: int,
    labelling_ratio: float,
    imbalance_ratio: float,
    head_classes: Sequence[int],
    val_per_class: int = 30,
    val_order: str = "id",
) -> Split:
    """TINL + QINL setting: step-imbalanced training quotas from :func:`step_quotas`."""
    quotas = step_quotas(len(labels), num_classes, labelling_ratio, imbalance_ratio, head_classes)
    return make_split(labels, quotas, val_per_class, seed, val_order)
