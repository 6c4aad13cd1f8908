"""Regression pins: every smoke and demo config reproduces its recorded final metrics on CPU.

``tests/pins/<paper>__<name>.json`` holds the numbers; a refactor that moves one fails here.
Timing metrics (see ``is_pinned``) are not pinned. On the CPU a pin was recorded on (its
``cpu``: model name and torch's kernel level, :func:`cpu_signature`) floats compare to 1e-6
(relative and absolute), everything else exactly. Another CPU runs other float kernels (AVX2 vs
AVX-512, another BLAS path): a trained smoke model then drifts by more than 1e-6 and a tiny test
set can flip a prediction, so there the check is the metric names and every value within
``CROSS_CPU`` (a refactor that breaks a method still moves it further). Re-pin only for an
intended change of results (``python scripts/pin.py <paper>/<name>``) and say why in the commit.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS

PINS = Path(__file__).parent / "pins"
UNPINNED = ("time", "seconds", "wall_")
MEASURED_SPEEDUPS = {"speedup"}  # wall-clock ratios (label_anchors' compression)


def is_pinned(key: str) -> bool:
    """False for timing metrics: ``time/...``, ``.../seconds_per_query``,
    ``compression/hidden_anchor/speedup``; counted speed-ups (``speedup_layers``) stay pinned."""
    return not any(part.startswith(UNPINNED) or part in MEASURED_SPEEDUPS
                   for part in key.split("/"))


CROSS_CPU = {"rel": 0.05, "abs": 0.02}


def cpu_signature() -> str:
    """The CPU model and torch's kernel level (``AVX512``, ``AVX2``, ...) of this machine."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")
    return f"{model or platform.processor() or platform.machine()} / " \
           f"{torch.backends.cpu.get_cpu_capability()}"


def pin_file(experiment: str) -> dict:
    return json.loads((PINS / f"{experiment.replace('/', '__')}.json").read_text())


def pinned(experiment: str) -> dict[str, float]:
    return pin_file(experiment)["metrics"]


def experiments(kind: str) -> list[str]:
    return sorted(f"{p.parent.name}/{p.stem}"
                  for p in (CONFIGS / "experiment").glob(f"*/{kind}*.yaml"))


def check(results: dict, experiment: str) -> None:
    assert results["status"] == "finished"
    pin = pin_file(experiment)
    want = pin["metrics"]
    got = {k: v for k, v in results["metrics"].items() if is_pinned(k)}
    assert sorted(got) == sorted(want), f"{experiment}: pinned metric names changed"
    tolerance = ({"rel": 1e-6, "abs": 1e-6} if pin.get("cpu") == cpu_signature()
                 else CROSS_CPU)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, **tolerance), f"{experiment}: {key}"


def test_every_smoke_and_demo_is_pinned():
    missing = [e for e in experiments("smoke") + experiments("demo")
               if not (PINS / f"{e.replace('/', '__')}.json").exists()]
    assert not missing, f"no pin for {missing}: run python scripts/pin.py <experiment>"


@pytest.mark.parametrize("experiment", experiments("smoke"))
def test_smoke_matches_pin(experiment, run_experiment):
    check(run_experiment(experiment), experiment)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", experiments("demo"))
def test_demo_matches_pin(experiment, run_experiment):
    check(run_experiment(experiment), experiment)
