"""Every MADGap experiment config runs end to end in smoke mode (tiny sweeps, 2 epochs); the
smoke config itself runs in tests/test_experiment_configs.py."""

from __future__ import annotations

import pytest

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
