"""Typed task parameters: built and validated from the composed config before any work."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from omegaconf import MISSING
from test_run import toy_cfg

from common.params import ConfigError, build_params
from common.run import execute

TYPED = "task._target_=toy_experiment.run_typed"


def test_typed_task_arrives_as_its_dataclass(tmp_path):
    results = execute(toy_cfg(TYPED, "+task.n=3", "+task.loss=focal"), tmp_path / "run")
    assert results["metrics"] == {"n": 3.0, "focal": 1.0}


@pytest.mark.parametrize(("override", "message"), [
    ("+task.lsos=ce", "task.lsos: unknown key; did you mean task.loss?"),
    ("+task.n=abc", "task.n: 'abc' is not a valid int"),
    ("+task.n=-2", "task.n: must be > 0, got -2"),
    ("+task.loss=mse", "task.loss: 'mse' is not allowed; use one of ['ce', 'focal']"),
])
def test_bad_values_fail_before_the_run_folder_exists(tmp_path, override, message):
    with pytest.raises(ConfigError) as err:
        execute(toy_cfg(TYPED, override), tmp_path / "run")
    assert message in str(err.value)
    assert not (tmp_path / "run").exists()


@dataclass
class Edit:
    max_add: float = 0.1


@dataclass
class Nested:
    grid: list[Edit] = field(default_factory=list)
    one: Edit | None = None
    required: int = MISSING


@pytest.mark.parametrize(("values", "message"), [
    ({"required": 1, "grid": [{"max_add": 1}, {"max_ad": 1}]},
     "task.grid[1].max_ad: unknown key; did you mean task.grid[1].max_add?"),
    ({"required": 1, "one": {"maxx_add": 2}}, "task.one.maxx_add: unknown key; did you mean"),
    ({}, "task.required: is required and has no default"),
])
def test_nested_keys_are_named_by_their_full_path(values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_params(Nested, values)
    assert build_params(Nested, {"required": 2, "grid": [{"max_add": 0.5}]}).grid == [Edit(0.5)]
