"""Every MADGap experiment config runs end to end in smoke mode (tiny sweeps, 2 epochs), bad task
values stop before any work, and the report reads the runs back; the smoke config itself runs
in tests/test_regression_pins.py."""

from __future__ import annotations

import pytest

from common.params import ConfigError, build_params
from papers.madgap import report
from papers.madgap.experiment import AdagraphTask, MadgapAccTask, TopologyTask

TINY = ("trainer.max_epochs=2", "trainer.checkpoint_every=0")
CASES = {
    "madgap/demo": ("task.depths=[1]",),
    "madgap/smoothing": ("task.depths=[2]",),
    "madgap/madgap_acc": ("task.depths=[1,2,3]", "task.per_layer=true"),
    "madgap/topology": ("task.rates=[0.0,0.5]", "task.edits=[remove_inter]"),
    "madgap/madreg": ("task.num_layers=2",),
    "madgap/adagraph": (
        "task.rounds=1",
        "task.grid=[{remove_threshold: 0.0, add_threshold: 0.0, max_remove: 5, max_add: 5}]",
    ),
}


@pytest.mark.parametrize("experiment", sorted(CASES))
def test_experiment_runs_in_smoke_mode(run_experiment, mirror_asset, experiment):
    mirror_asset("planetoid/Cora/raw")
    overrides = (*TINY, *CASES[experiment])
    results = run_experiment(experiment, *overrides)
    metrics = results["metrics"]
    assert metrics, experiment
    assert all(isinstance(v, float) for v in metrics.values())
    if experiment == "madgap/madgap_acc":
        assert -1.0 <= metrics["pearson_r"] <= 1.0
        assert "L2/layer1/madgap" in metrics
    if experiment == "madgap/adagraph":
        assert 0.0 <= metrics["test/acc_after"] <= 1.0


RELATION = {"neighbour_hops": 3, "remote_hops": 8, "unreachable_as_remote": True}


@pytest.mark.parametrize(
    ("cls", "values", "key"),
    [
        (TopologyTask, {"edits": ["remove_all"], "rates": [0.5], "num_layers": 2}, "task.edits[0]"),
        (
            TopologyTask,
            {"edits": ["remove_inter"], "rates": [1.5], "num_layers": 2},
            "task.rates[0]",
        ),
        (
            TopologyTask,
            {"edits": ["add_inter"], "rates": [0.5], "num_layers": 2, "masks_from": "both"},
            "task.masks_from",
        ),
        (MadgapAccTask, {"depths": []}, "task.depths"),
        (
            MadgapAccTask,
            {"depths": [2], "relation": {**RELATION, "remote_hops": 3}},
            "task.relation.remote_hops",
        ),
        (
            AdagraphTask,
            {"num_layers": 2, "rounds": 1, "grid": [{"add_threshold": 1.5}]},
            "task.grid[0].add_threshold",
        ),
    ],
)
def test_bad_task_values_name_their_key(cls, values, key):
    with pytest.raises(ConfigError) as error:
        build_params(cls, values)
    assert error.value.key == key


def test_adagraph_without_settings_reports_the_baseline(run_experiment, mirror_asset):
    mirror_asset("planetoid/Cora/raw")
    metrics = run_experiment("madgap/adagraph", *TINY, "task.grid=[]")["metrics"]
    assert metrics["test/acc_after"] == metrics["test/acc_before"]
    assert metrics["chosen/setting"] == -1.0


def test_report_tables_and_figures_from_runs(run_experiment, mirror_asset, tmp_path, capsys):
    mirror_asset("planetoid/Cora/raw")
    for seed in (0, 1):
        run_experiment(
            "madgap/madgap_acc",
            *TINY,
            "task.depths=[1,2,3]",
            f"seed={seed}",
            run_dir=tmp_path / "runs" / f"seed{seed}",
        )
    report.main([str(tmp_path / "runs"), "--figures", str(tmp_path / "figures")])
    printed = capsys.readouterr().out
    assert "| gcn_kipf | cora | 2 |" in printed
    assert (tmp_path / "figures" / "madgap_acc.png").exists()
