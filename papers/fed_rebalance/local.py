"""The federated model wrapper and the one local-SGD loop every method's client uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from common.vision.data import random_crop_flip


class FedNet(nn.Module):
    """A zoo model (``features`` + ``classifier``) plus RedGrape's optional supplementary
    classifier W_hat (Sec. 4.4): training logits are (W + W_hat) h, inference uses W alone."""

    def __init__(self, net: nn.Module, num_classes: int, supplementary: bool = False):
        super().__init__()
        self.net = net
        self.supplementary = nn.Linear(net.feature_dim, num_classes) if supplementary else None

    @property
    def classifier(self) -> nn.Linear:
        return self.net.classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)

    def train_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(W + W_hat) h(x) when W_hat exists, else W h(x)."""
        h = self.net.features(x)
        logits = self.net.classifier(h)
        if self.supplementary is not None:
            logits = logits + self.supplementary(h)
        return logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class LocalConfig:
    """Local training settings shared by all methods."""

    epochs: int = 5
    batch_size: int = 32
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    clip_norm: float | None = 1.0
    augment: bool = True


class Preprocess:
    """uint8 images -> normalised float tensors, with optional random crop + flip."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device):
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.device = device

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is not None:
            x = random_crop_flip(x, generator)
        return (x.to(self.device).float() / 255.0 - self.mean) / self.std


class BatchHook(Protocol):
    """Per-batch callbacks around the optimiser step (used by RedGrape's classifier correction)."""

    def before_backward(self, model: FedNet) -> None: ...

    def after_backward(self, model: FedNet) -> None: ...

    def after_step(self, model: FedNet) -> None: ...


LossFn = Callable[[FedNet, torch.Tensor, torch.Tensor], torch.Tensor]


def local_sgd(
    model: FedNet,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    cfg: LocalConfig,
    loss_fn: LossFn,
    prep: Preprocess,
    generator: torch.Generator,
    hook: BatchHook | None = None,
) -> float:
    """``cfg.epochs`` passes of mini-batch SGD (momentum) over (x, y); returns the mean loss.

    Per batch: loss -> hook.before_backward -> backward -> hook.after_backward -> clip
    (``clip_norm``, as in RedGrape's trainer) -> step -> hook.after_step.
    """
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    total, steps = 0.0, 0
    device = prep.device
    for _ in range(cfg.epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            xb = prep(x[idx], generator if cfg.augment else None)
            yb = y[idx].to(device)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, xb, yb)
            if hook is not None:
                hook.before_backward(model)
            loss.backward()
            if hook is not None:
                hook.after_backward(model)
            if cfg.clip_norm is not None:
                nn.utils.clip_grad_norm_(params, cfg.clip_norm)
            opt.step()
            if hook is not None:
                hook.after_step(model)
            total += loss.item()
            steps += 1
    return total / max(steps, 1)


def cross_entropy_loss(model: FedNet, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Plain CE on the training logits."""
    return nn.functional.cross_entropy(model.train_logits(x), y)
