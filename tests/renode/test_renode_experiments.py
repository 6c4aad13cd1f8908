"""ReNode experiment configs run end to end with tiny settings; seeds follow the contract
(splits fixed, inits from ``seed``); typed task errors; the large-graph path is slow."""

from __future__ import annotations

import json
import re

import pytest
import torch
from test_regression_pins import check

from common.params import ConfigError
from common.report import load_local
from papers.renode.report import correlation_figures, markdown, table_runs

TINY = (
    "trainer.max_epochs=3",
    "trainer.min_epochs=1",
    "task.inits=1",
    "task.ppr.cache=false",
)
CASES = {  # renode/smoke itself runs in tests/test_experiment_configs.py and below
    "renode/smoke_qinl": (),
    "renode/tinl": (*TINY, "task.split_seeds=[0]"),
    "renode/demo": (*TINY, "task.split_seeds=[0]"),
    "renode/tinl_qinl": (*TINY, "task.split_seeds=[1]", "task.loss=focal"),
    "renode/totoro_correlation": (*TINY, "task.num_labelled_sets=3"),
}


@pytest.mark.parametrize("experiment", sorted(CASES))
def test_experiment_runs(run_experiment, mirror_asset, experiment, tmp_path):
    mirror_asset("planetoid/Cora/raw")
    mirror_asset("planetoid/CiteSeer/raw")
    results = run_experiment(experiment, f"paths.cache={tmp_path}/cache", *CASES[experiment])
    metrics = results["metrics"]
    assert results["status"] == "finished"
    runs = load_local([tmp_path / "run"], paper="renode")
    if experiment == "renode/totoro_correlation":
        assert -1.0 <= metrics["spearman/weighted_f1"] <= 1.0
        assert (tmp_path / "run" / "totoro_vs_f1.png").exists()
        assert correlation_figures(runs, tmp_path / "figures") == [
            tmp_path / "figures" / "totoro_vs_f1_cora.png"
        ]
    else:
        for variant in ("base", "renode"):
            assert 0.0 < metrics[f"{variant}/test_weighted_f1_mean"] <= 100.0
        assert metrics["totoro/mean"] > 0.0
        assert "| cora | gcn |" in markdown(table_runs(runs))


def test_smoke_caches_ppr_rows(run_experiment, mirror_asset, tmp_path):
    mirror_asset("planetoid/Cora/raw")
    cache = tmp_path / "cache"
    run_experiment(
        "renode/smoke", f"paths.cache={cache}", "trainer.max_epochs=2", run_dir=tmp_path / "a"
    )
    stored = list((cache / "renode" / "ppr").glob("cora_*_a0.15_power_*.pt"))
    assert len(stored) == 1


def test_seed_picks_the_inits_not_the_splits(run_experiment, mirror_asset, tmp_path):
    """seed=0 is the pinned smoke (fresh PPR cache: the shared PPR code end to end); seed=1
    trains other inits on the same official split, so its metrics differ but its Totoro not."""
    mirror_asset("planetoid/Cora/raw")
    cache = f"paths.cache={tmp_path}/cache"
    first = run_experiment("renode/smoke", cache, "seed=0", run_dir=tmp_path / "seed0")
    check(first, "renode/smoke")
    second = run_experiment("renode/smoke", cache, "seed=1", run_dir=tmp_path / "seed1")
    assert second["metrics"]["totoro/mean"] == first["metrics"]["totoro/mean"]
    assert second["metrics"]["base/test_weighted_f1_mean"] != pytest.approx(
        first["metrics"]["base/test_weighted_f1_mean"], abs=1e-6)
    assert second["metrics"]["renode/test_weighted_f1_mean"] != pytest.approx(
        first["metrics"]["renode/test_weighted_f1_mean"], abs=1e-6)
    seeds = json.loads((tmp_path / "seed1" / "seeds.json").read_text())
    assert seeds["split_seeds"] == [0] and seeds["init_seeds"] == [1]


def test_config_lr_schedule_matches_the_official_rule():
    """renode/tinl's optim + schedule give the official lr of every epoch: 0.0075, then
    x0.95 per epoch after epoch 20, floored at 1e-4."""
    from conftest import compose

    from common.optim import build_optimizer, build_schedule, lambda_scheduler

    cfg = compose("renode/tinl")
    optimizer = build_optimizer(cfg.optim, [torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.param_groups[0]["weight_decay"] == 0.0
    scheduler = lambda_scheduler(optimizer, build_schedule(cfg.schedule), 200)
    for epoch in range(1, 201):
        expected = 0.0075 if epoch <= 20 else max(0.0075 * 0.95 ** (epoch - 20), 1e-4)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(expected)
        optimizer.step()
        scheduler.step()


def test_init_seeds_are_disjoint_blocks_per_seed():
    from papers.renode.experiment import ReNodeTask

    task = ReNodeTask(inits=3)
    assert task.init_seeds(0) == [0, 1, 2] and task.init_seeds(2) == [6, 7, 8]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("task.split.setting=qinl", "task.split.setting"),
        ("task.loss=focal_loss", "task.loss"),
        ("task.variants=[base,reweight]", "task.variants"),
        ("task.ppr.method=exact", "task.ppr.method"),
        ("task.renode.w_max=0.1", "task.renode.w_max"),
    ],
)
def test_bad_task_values_name_their_key(run_experiment, override, key, tmp_path):
    with pytest.raises(ConfigError, match=re.escape(key)):
        run_experiment("renode/smoke", override)


@pytest.mark.slow
def test_renode_on_a_synthetic_large_graph(tmp_path):
    """The large-graph path: 200k nodes, sparse PPR rows for 200 labelled nodes, ReNode weights."""
    from common.graph.ppr import cached_ppr_rows
    from papers.renode.splits import tinl_split
    from papers.renode.synthetic import planted_partition_graph
    from papers.renode.totoro import node_totoro, renode_weights

    graph = planted_partition_graph(200_000, num_classes=10, seed=0)
    split = tinl_split(graph.y, 10, seed=0)
    rows = cached_ppr_rows(
        graph.edge_index, graph.num_nodes, split.train, cache_dir=tmp_path,
        dataset="synthetic200k",
    )
    assert rows.shape == (200, 200_000)
    assert torch.all(rows.sum(1) > 0.5)
    t = node_totoro(rows, graph.y[split.train], 10)
    w = renode_weights(t)
    assert w.max().item() == pytest.approx(1.5) and w.min().item() == pytest.approx(0.5)


def test_large_graph_config_composes():
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    configs = Path(__file__).resolve().parents[2] / "configs"
    with initialize_config_dir(str(configs), version_base="1.3"):
        cfg = compose("run", overrides=["experiment=renode/large_reddit", "tracking=disabled"])
    assert cfg.data._target_ == "common.graph.data.load_graph" and cfg.data.name == "reddit"
    assert cfg.model.conv == "sage" and cfg.task.split.train_per_class == 50
    assert cfg.task.ppr.method == "power"


def test_reddit_loader_names_the_asset_offline(tmp_path, monkeypatch):
    from common.assets import AssetError
    from common.graph.data import load_graph

    monkeypatch.setenv("REPRO_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AssetError, match="reddit"):
        load_graph("reddit")
