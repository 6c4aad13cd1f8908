"""Typed task parameters: built and validated from the composed config before any work."""

from __future__ import annotations

import pytest
from test_run import toy_cfg

from common.params import ConfigError
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
