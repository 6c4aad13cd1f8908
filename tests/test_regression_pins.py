"""Regression pins: every smoke and demo config reproduces its recorded final metrics on CPU.

``tests/pins/<paper>__<name>.json`` holds the numbers; a refactor that moves one fails here.
Timing metrics (see ``is_pinned``) are not pinned. Floats compare to 1e-6 (relative and
absolute) where summation order may differ between torch builds; everything else is exact.
Re-pin only for an intended change of results (``python scripts/pin.py <paper>/<name>``) and
say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CONFIGS

PINS = Path(__file__).parent / "pins"
UNPINNED = ("time", "seconds", "wall_")
MEASURED_SPEEDUPS = {"speedup"}  # wall-clock ratios (label_anchors' compression)


def is_pinned(key: str) -> bool:
    """False for timing metrics: ``time/...``, ``.../seconds_per_query``,
    ``compression/hidden_anchor/speedup``; counted speed-ups (``speedup_layers``) stay pinned."""
    return not any(part.startswith(UNPINNED) or part in MEASURED_SPEEDUPS
                   for part in key.split("/"))


def pinned(experiment: str) -> dict[str, float]:
    return json.loads((PINS / f"{experiment.replace('/', '__')}.json").read_text())["metrics"]


def experiments(kind: str) -> list[str]:
    return sorted(f"{p.parent.name}/{p.stem}"
                  for p in (CONFIGS / "experiment").glob(f"*/{kind}*.yaml"))


def check(results: dict, experiment: str) -> None:
    assert results["status"] == "finished"
    want = pinned(experiment)
    got = {k: v for k, v in results["metrics"].items() if is_pinned(k)}
    assert sorted(got) == sorted(want), f"{experiment}: pinned metric names changed"
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-6), f"{experiment}: {key}"


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
