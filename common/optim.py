"""One optimizer builder and the learning-rate schedules, both built from config groups.

``configs/optim/<name>.yaml`` is a ``_partial_`` optimizer (``optim.lr`` is the learning rate in
every paper); ``configs/schedule/<name>.yaml`` is one of the rules below. A rule maps
``(t, total, base_lr)`` to the factor ``LambdaLR`` multiplies the base learning rate by, where
``t`` counts finished steps or epochs (the rule's ``interval``) and ``total`` is the length of the
run in that unit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from common.params import ConfigError

INTERVALS = ("step", "epoch")


def check_lr(lr: Any) -> None:
    """``optim.lr`` must be a number > 0 (the one check, shared with the front door)."""
    if isinstance(lr, bool) or not isinstance(lr, int | float) or lr <= 0:
        raise ConfigError("optim.lr", f"must be a number > 0, got {lr!r}",
                          "set e.g. optim.lr=0.01")


def build_optimizer(cfg: Mapping[str, Any] | DictConfig, params: Iterable[Any],
                    **overrides: Any) -> torch.optim.Optimizer:
    """The optimizer of an ``optim`` config node over ``params`` (tensors or param groups);
    ``overrides`` replace config values (a paper whose method fixes one, e.g. no weight decay)."""
    node = OmegaConf.merge(cfg, overrides)
    if "_target_" not in node:
        raise ValueError("optim: missing _target_; pick one of configs/optim/*.yaml (optim=adam)")
    check_lr(node.get("lr"))
    node._partial_ = True
    return instantiate(node)(params)


@dataclass(frozen=True)
class Constant:
    """lr(t) = lr0."""

    interval: str = "epoch"

    def __call__(self, t: int, total: int, base_lr: float) -> float:
        return 1.0


@dataclass(frozen=True)
class LinearWarmupDecay:
    """Linear warm-up from 0 over ``warmup`` steps (or ``warmup_ratio`` of the run), then linear
    decay to 0 at ``total``: BERT's fine-tuning schedule (Devlin et al. 2019, App. A.2), with
    the factor ``t / w`` then ``(total - t) / (total - w)`` as HF's
    ``get_linear_schedule_with_warmup``.
    """

    warmup: int = 0
    warmup_ratio: float = 0.0
    interval: str = "step"

    def warmup_steps(self, total: int) -> int:
        return self.warmup or int(math.ceil(self.warmup_ratio * total))

    def __call__(self, t: int, total: int, base_lr: float) -> float:
        w = self.warmup_steps(total)
        if t < w:
            return t / max(1, w)
        return max(0.0, (total - t) / max(1, total - w))


@dataclass(frozen=True)
class CosineWarmup:
    """Linear warm-up, then half a cosine from lr0 down to ``min_ratio`` · lr0 at ``total``
    (Loshchilov & Hutter 2017, SGDR without restarts)."""

    warmup: int = 0
    warmup_ratio: float = 0.0
    min_ratio: float = 0.0
    interval: str = "step"

    def __call__(self, t: int, total: int, base_lr: float) -> float:
        w = self.warmup or int(math.ceil(self.warmup_ratio * total))
        if t < w:
            return t / max(1, w)
        progress = min(1.0, (t - w) / max(1, total - w))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class ExponentialAfter:
    """lr(e) = lr0 · max(rate^(e - start), min_lr / lr0) for e > start, else lr0, where e = t + 1
    is the epoch about to run: ReNode's official schedule (lr 0.0075, x0.95 per epoch after epoch
    20, floor 1e-4; Chen et al. 2021, Sec. 4.1 / released code)."""

    start: int = 20
    rate: float = 0.95
    min_lr: float = 0.0
    interval: str = "epoch"

    def __call__(self, t: int, total: int, base_lr: float) -> float:
        epoch = t + 1
        if epoch <= self.start:
            return 1.0
        return max(self.rate ** (epoch - self.start), self.min_lr / base_lr)


Schedule = Constant | LinearWarmupDecay | CosineWarmup | ExponentialAfter


def build_schedule(cfg: Mapping[str, Any] | DictConfig | None) -> Schedule | None:
    """The rule of a ``schedule`` config node (``None`` or ``constant`` gives none)."""
    if cfg is None:
        return None
    rule = instantiate(cfg)
    if rule.interval not in INTERVALS:
        raise ValueError(f"schedule.interval: must be one of {INTERVALS}, got {rule.interval!r}")
    return None if isinstance(rule, Constant) else rule


def lambda_scheduler(
    optimizer: torch.optim.Optimizer, rule: Schedule, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` applying ``rule`` to every parameter group (each with its own base lr)."""
    lambdas = [partial(rule, total=total, base_lr=g.get("initial_lr", g["lr"]))
               for g in optimizer.param_groups]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)
