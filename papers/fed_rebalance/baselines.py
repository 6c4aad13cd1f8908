"""Baselines on the same engine: FedAvg, FedProx and Fed-Focal (CReFF lives in creff.py)."""

from __future__ import annotations

import torch
from torch import nn

from papers.fed_rebalance.federated import Arrays, ClientData, ClientEnv, FedMethod
from papers.fed_rebalance.local import Batch, FedNet, cross_entropy_loss


def focal_loss(logits: torch.Tensor, y: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Focal loss (Lin et al., 2017) without class weights: mean of -(1 - p_y)^gamma log p_y."""
    logp = torch.log_softmax(logits, dim=1).gather(1, y.view(-1, 1)).squeeze(1)
    return (-((1.0 - logp.exp()) ** gamma) * logp).mean()


def proximal_term(model: nn.Module, anchor: list[torch.Tensor], mu: float) -> torch.Tensor:
    """FedProx (Li et al., 2020, Eq. 2): (mu / 2) * ||w - w_global||^2 over all parameters."""
    sq = sum(((p - a) ** 2).sum() for p, a in zip(model.parameters(), anchor, strict=True))
    return 0.5 * mu * sq


class FedAvg(FedMethod):
    """FedAvg: local SGD on cross-entropy, sample-weighted averaging."""

    def client_update(
        self, model: FedNet, data: ClientData, arrays: Arrays, env: ClientEnv
    ) -> tuple[Arrays, float]:
        loss = env.train(model, data)
        return {}, loss


class FedProx(FedMethod):
    """FedProx: cross-entropy plus the proximal term to the received global model."""

    def __init__(self, mu: float = 0.1):
        self.mu = mu

    def client_update(
        self, model: FedNet, data: ClientData, arrays: Arrays, env: ClientEnv
    ) -> tuple[Arrays, float]:
        anchor = [p.detach().clone() for p in model.parameters()]

        def loss_fn(m: FedNet, batch: Batch) -> torch.Tensor:
            loss = cross_entropy_loss(m, batch)
            return loss + proximal_term(m, anchor, self.mu) if self.mu else loss

        loss = env.train(model, data, loss_fn)
        return {}, loss


class FedFocal(FedMethod):
    """Fed-Focal: FedAvg with the focal loss as the local objective."""

    def __init__(self, gamma: float = 2.0):
        self.gamma = gamma

    def client_update(
        self, model: FedNet, data: ClientData, arrays: Arrays, env: ClientEnv
    ) -> tuple[Arrays, float]:
        def loss_fn(m: FedNet, batch: Batch) -> torch.Tensor:
            x, y = batch
            return focal_loss(m.train_logits(x), y, self.gamma)

        loss = env.train(model, data, loss_fn)
        return {}, loss
