"""The ESFT experiments on the smoke MoE: every method, the cached backbone reproducing a fresh
one, the routing report, and config errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import compose

from common.params import ConfigError

FEW = ("task.tasks=[math]", "task.methods=[vanilla,lora,esft_gate,esft_token_shared]")


def test_a_cached_backbone_gives_the_fresh_runs_metrics(run_experiment, tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_CACHE", str(tmp_path / "cache"))
    fresh = run_experiment("esft/smoke", *FEW, run_dir=tmp_path / "a")
    assert list((tmp_path / "cache" / "esft").glob("esft-smoke-moe-*/config.json"))
    cached = run_experiment("esft/smoke", *FEW, run_dir=tmp_path / "b")
    untimed = [k for k in fresh["metrics"] if "time/" not in k]
    assert {k: fresh["metrics"][k] for k in untimed} == {k: cached["metrics"][k] for k in untimed}
    m = fresh["metrics"]
    for method in ("lora", "esft_gate", "esft_token_shared"):
        for key in ("em", "general/acc", "trainable", "checkpoint_bytes", "time/train_s"):
            assert f"math/{method}/{key}" in m, (method, key)
    assert m["math/esft_gate/trainable"] < m["math/esft_token_shared/trainable"]
    assert m["math/esft_gate/checkpoint_bytes"] < m["math/lora/checkpoint_bytes"]
    assert 1 <= m["math/esft_gate/experts_per_layer"] <= 4
    assert "glance/esft_gate_task" in m and "avg/lora/em" in m
    from common.report import load_local
    from papers.esft.report import report

    table = report(load_local([tmp_path / "a", tmp_path / "b"], paper="esft"))
    assert "| ESFT-Gate | " in table and "| LoRA | " in table and "paper task avg" in table


def test_pretrain_reports_routing_concentration(run_experiment):
    results = run_experiment("esft/smoke", "task._target_=papers.esft.experiment.run_esft_pretrain")
    m = results["metrics"]
    assert m["routing/uniform_share"] == 0.5  # top-2 of 4 experts
    for name in ("english", "code", "arithmetic", "records", "task:math", "task:intent"):
        assert 0.5 <= m[f"routing/{name}/top2_share"] <= 1.0, name
    assert (Path(results["run_dir"]) / "routing.png").exists()


@pytest.mark.parametrize(("override", "key"), [
    ("task.methods=[esft]", "task.methods[0]"),
    ("task.tasks=[code]", "task.tasks[0]"),
    ("task.p_gate=0", "task.p_gate"),
    ("task.mix_general={esft:0,fft:1.0,lora:0.5}", "task.mix_general.fft"),
    ("task.lr.fft=0", "task.lr.fft"),
    ("+task.lr.esft_gate=1e-3", "task.lr"),
    ("task.pretrain.english_sources=[wikitext2]", "task.pretrain.english_sources[0]"),
])
def test_bad_values_name_the_key(run_experiment, override, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        run_experiment("esft/smoke", override)


def test_paper_config_names_the_papers_backbone():
    cfg = compose("esft/paper")
    assert cfg.model.source.repo_id == "deepseek-ai/ESFT-vanilla-lite"
    assert cfg.task.steps == 500 and cfg.task.batch_size == 32
