"""The whole pipeline on tiny random BERTs (experiment=cascadebert/smoke), the wall-clock
path, and config errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import compose

from common.params import ConfigError


def test_sweep_adds_quantile_thresholds():
    import torch

    from papers.cascadebert.experiment import sweep

    values = torch.tensor([0.5, 0.6, 0.7, 0.8, 0.9])
    assert sweep([0.9, 0.6], values, 0) == [0.6, 0.9]
    assert sweep([0.95], values, 4) == [0.6, 0.7, 0.8, 0.95]


def test_smoke_trains_and_evaluates_every_method(run_experiment):
    results = run_experiment("cascadebert/smoke", "task.wallclock=true")
    metrics = results["metrics"]
    for key in ("alone/small/acc", "alone/large/acc", "cascade/tau0.8/acc",
                "cascade/tau0.8/speedup_layers", "cascade/tau0.8/speedup_flops",
                "cascade_no_dar/tau0.5/acc", "deebert/S0.7/acc", "pabee/t1/acc",
                "glance/cascade_ece", "ece/small", "difficulty/easy_share",
                "alone/large/seconds", "glance/cascade_acc", "glance/deebert_acc"):
        assert key in metrics, key
    for method in ("cascade", "deebert", "pabee"):  # timed at the matched points only
        assert sum(k.startswith(f"{method}/") and k.endswith("/seconds") for k in metrics) == 1
    assert metrics["alone/large/speedup_layers"] == 1.0
    assert metrics["alone/small/speedup_layers"] == 2.0
    assert (Path(results["run_dir"]) / "tradeoff.png").exists()


@pytest.mark.parametrize(("override", "key"), [
    ("task.taus=[0.5,1.5]", "task.taus[1]"),
    ("task.target_speedup=0", "task.target_speedup"),
    ("task.difficulty.min_correct=3", "task.difficulty.min_correct"),
    ("task.small.layers=0", "task.small.layers"),
])
def test_bad_values_name_their_key(override, key):
    from common.run import prepare_task

    with pytest.raises(ConfigError) as err:
        prepare_task(compose("cascadebert/smoke", override))
    assert key in str(err.value)
