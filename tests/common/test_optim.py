"""Optimizer builder and schedules: against transformers' schedulers and hand-computed values."""

from __future__ import annotations

import pytest
import torch
from conftest import compose
from omegaconf import OmegaConf
from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

from common.optim import (
    CosineWarmup,
    ExponentialAfter,
    LinearWarmupDecay,
    build_optimizer,
    build_schedule,
    lambda_scheduler,
)


def lrs(scheduler, optimizer, steps):
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def fresh():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)


@pytest.mark.parametrize(("rule", "reference"), [
    (LinearWarmupDecay(warmup=4), lambda o: get_linear_schedule_with_warmup(o, 4, 20)),
    (CosineWarmup(warmup=3), lambda o: get_cosine_schedule_with_warmup(o, 3, 20)),
])
def test_schedules_match_transformers(rule, reference):
    a, b = fresh(), fresh()
    ours = lrs(lambda_scheduler(a, rule, 20), a, 20)
    theirs = lrs(reference(b), b, 20)
    assert ours == pytest.approx(theirs)


def test_warmup_ratio_and_exponential_after():
    assert LinearWarmupDecay(warmup_ratio=0.1).warmup_steps(95) == 10
    rule = ExponentialAfter(start=20, rate=0.95, min_lr=1e-4)
    assert rule(19, 200, 0.0075) == 1.0
    assert rule(20, 200, 0.0075) == pytest.approx(0.95)
    assert rule(199, 200, 0.0075) == pytest.approx(1e-4 / 0.0075)


def test_optim_group_builds_each_optimizer():
    params = [torch.nn.Parameter(torch.zeros(2))]
    for name, cls in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                      ("sgd", torch.optim.SGD)):
        cfg = compose("madgap/smoke", f"optim={name}", "optim.lr=0.123")
        opt = build_optimizer(cfg.optim, params)
        assert isinstance(opt, cls) and opt.param_groups[0]["lr"] == 0.123
    with pytest.raises(ValueError, match="optim.lr"):
        build_optimizer(OmegaConf.create({"_target_": "torch.optim.SGD", "lr": -1}), params)
    assert build_schedule(compose("madgap/smoke", "schedule=constant").schedule) is None
    with pytest.raises(ValueError, match="schedule.interval"):
        build_schedule({"_target_": "common.optim.LinearWarmupDecay", "interval": "batch"})
