"""Cascade inference over complete models (Sec. 3.1 of CascadeBERT).

The models run small to large; an example exits at the first model whose confidence, the
maximum softmax probability, is strictly above the threshold tau (the official code's ``>``);
the last model answers whatever is left.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def confidence(probs: Tensor) -> Tensor:
    """max_c p_c of each row: the confidence every exit rule of the paper thresholds."""
    return probs.max(-1).values


def exit_model(confidences: Tensor, tau: float) -> Tensor:
    """Index of the model that answers each example, from confidences (M, N) of the M models:
    the first m with conf_m > tau, else the last model (M - 1)."""
    confident = confidences > tau
    confident[-1] = True
    return confident.float().argmax(0)


def cascade_probs(probs: Sequence[Tensor], tau: float) -> tuple[Tensor, Tensor]:
    """The cascade's output distributions (N, C) and the answering model of each example (N,),
    from each model's probabilities (N, C), small to large."""
    stacked = torch.stack(list(probs))
    exits = exit_model(confidence(stacked), tau)
    return stacked[exits, torch.arange(stacked.shape[1])], exits


def run_costs(costs: Tensor, exits: Tensor) -> Tensor:
    """Cost of each example (N,) when it runs every model up to and including its exit model:
    ``costs`` (M,) or (M, N) per model (layers, or FLOPs of each example's length); the
    escalated example pays for the smaller models it passed through (2 + 12 layers in the
    paper's 2L -> 12L accounting)."""
    costs = costs if costs.dim() == 2 else costs[:, None].expand(-1, exits.numel())
    spent = costs.double().cumsum(0)
    return spent[exits, torch.arange(exits.numel())]


def speedup(reference_cost: Tensor | float, costs: Tensor) -> float:
    """Total cost of the reference (the largest model alone: a scalar per example or one per
    example) over the total cost spent: 12 / mean layers in the paper's accounting."""
    reference = torch.as_tensor(reference_cost, dtype=torch.float64)
    total_reference = reference.sum() if reference.dim() else reference * costs.numel()
    return float(total_reference / costs.double().sum())
