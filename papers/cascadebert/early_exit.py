"""The early-exit baselines on one model's internal classifiers (one after every layer).

* DeeBERT (Xin et al., ACL 2020): exit at the first layer whose prediction entropy is below S;
  two-stage training: the backbone and the final classifier by ordinary fine-tuning, then the
  internal classifiers ("off-ramps") with the backbone frozen, on the sum of their losses.
* PABEE (Zhou et al., NeurIPS 2020): exit when t consecutive internal classifiers agree with the
  one before them; one-stage training on the weighted loss sum_j j L_j / sum_j j.

``layer_logits`` below are (L, N, C): layer 1..L's classifier outputs for N examples. Exit layers
are 0-based indices; an example that exits at index i has run i + 1 layers.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def entropy(logits: Tensor) -> Tensor:
    """H(softmax(logits)) = -sum_c p_c log p_c over the last dimension (nats)."""
    log_p = F.log_softmax(logits.float(), -1)
    return -(log_p.exp() * log_p).sum(-1)


def deebert_exits(layer_logits: Tensor, threshold: float) -> Tensor:
    """DeeBERT's exit layer of each example (N,): the first l with H_l < S (strict, as the
    official code), else the last layer."""
    confident = entropy(layer_logits) < threshold
    confident[-1] = True
    return confident.float().argmax(0)


def pabee_exits(layer_logits: Tensor, patience: int) -> Tensor:
    """PABEE's exit layer of each example (N,): a counter per example grows by one when layer
    l's prediction equals layer l-1's and resets to 0 otherwise; the example exits at the first
    layer where the counter reaches ``patience`` (so at layer t + 1 at the earliest), else at
    the last layer."""
    if patience < 1:
        raise ValueError(f"patience must be >= 1, got {patience}")
    predictions = layer_logits.argmax(-1)
    layers, n = predictions.shape
    counter = torch.zeros(n, dtype=torch.long, device=predictions.device)
    exits = torch.full((n,), layers - 1, dtype=torch.long, device=predictions.device)
    done = torch.zeros(n, dtype=torch.bool, device=predictions.device)
    for layer in range(1, layers):
        same = predictions[layer] == predictions[layer - 1]
        counter = torch.where(same, counter + 1, torch.zeros_like(counter))
        newly = (counter >= patience) & ~done
        exits[newly] = layer
        done |= newly
    return exits


def exit_outputs(layer_logits: Tensor, exits: Tensor) -> Tensor:
    """The logits (N, C) of each example's exit layer."""
    return layer_logits[exits, torch.arange(layer_logits.shape[1])]


def pabee_loss(layer_logits: Tensor, labels: Tensor) -> Tensor:
    """PABEE's training loss sum_j j * CE_j / sum_j j over layers j = 1..L."""
    layers = layer_logits.shape[0]
    weights = torch.arange(1, layers + 1, dtype=torch.float32, device=layer_logits.device)
    losses = torch.stack([F.cross_entropy(logits, labels) for logits in layer_logits])
    return (weights * losses).sum() / weights.sum()


def deebert_ramp_loss(layer_logits: Tensor, labels: Tensor) -> Tensor:
    """DeeBERT's second-stage loss: the sum (not the mean) of the off-ramps' cross-entropies
    over layers 1..L-1 (the last layer's classifier was trained in the first stage)."""
    return torch.stack([F.cross_entropy(logits, labels) for logits in layer_logits[:-1]]).sum()
