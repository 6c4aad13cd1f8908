"""Every experiment YAML composes (with the shared groups it names); smoke runs are pinned in
``test_regression_pins.py``."""

from __future__ import annotations

from itertools import takewhile
from pathlib import Path

import pytest
from conftest import CONFIGS, compose

EXPERIMENTS = sorted(
    p.relative_to(CONFIGS / "experiment").with_suffix("").as_posix()
    for p in (CONFIGS / "experiment").rglob("*.yaml")
    if not p.name.startswith("_")
)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_config_composes(experiment):
    cfg = compose(experiment)
    paper = experiment.split("/")[0]
    assert cfg.paper == paper, f"{experiment}: paper key should be {paper!r}"
    target = cfg.task._target_
    assert target.startswith((f"papers.{paper}.", f"common.{paper}.")), target
    lines = Path(CONFIGS / "experiment" / f"{experiment}.yaml").read_text().splitlines()
    header = list(takewhile(lambda line: line.startswith("#"), lines))
    assert any("python -m common.run" in line or "make " in line for line in header), (
        f"{experiment}.yaml must start with a comment giving its command and runtime"
    )
