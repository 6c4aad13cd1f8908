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
    assert "glance/esft_gate_task" in m and "avg/lora/em" in m
    from common.report import load_local
    from papers.esft.report import report

    table = report(load_local([tmp_path / "a", tmp_path / "b"], paper="esft"))
    assert "| ESFT-Gate | " in table and "| LoRA | " in table and "paper task avg" in table


def test_pretrain_reports_routing_concentration(run_experiment):
    results = run_experiment("esft/smoke", "task._target_=papers.esft.experiment.run_esft_pretrain")
    m = results["metrics"]
    assert m["routing/uniform_share"] == 0.5  # top-2 of 4 experts
    names = ("english", "code", "arithmetic", "records", "task:math", "task:intent")
    for name in names:
        assert f"routing/{name}/top2_share" in m, name
    overlaps = [k for k in m if k.startswith("routing/overlap/")]
    assert len(overlaps) == len(names) * (len(names) - 1) // 2
    assert all(0 <= m[k] <= 1 + 1e-6 for k in overlaps)
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


def test_fft_and_lora_mix_general_rows_one_to_one_and_esft_does_not(monkeypatch):
    import torch

    from papers.esft.corpus import Example
    from papers.esft.experiment import EsftTask, Study

    class Tok:
        pad_token_id, eos_token_id = 0, 1

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [len(text) % 50 + 2]}

    study = Study.__new__(Study)
    study.task = EsftTask(general_len=4, pretrain=EsftTask().pretrain)
    study.train = [Example("q", " a")] * 6
    study.backbone = type("B", (), {"tokenizer": Tok(), "general_train": {
        "english": torch.arange(64).view(4, 16), "code": torch.arange(64).view(4, 16)}})()
    study.ctx = type("C", (), {"rng": lambda self, s: torch.Generator().manual_seed(0)})()
    monkeypatch.setattr("papers.esft.experiment.encode_example",
                        lambda tok, ex: {"input_ids": [5, 6], "labels": [-100, 6]})
    for method, general in (("fft", 6), ("lora", 6), ("esft_token", 0), ("esft_gate_shared", 0)):
        rows = study.rows(method)
        extra = [r for r in rows if r["labels"][0] != -100]
        assert len(rows) == 6 + general and len(extra) == general, method
        assert all(len(r["input_ids"]) == 4 for r in extra)


def test_the_cache_key_moves_with_every_setting_that_shapes_the_backbone():
    from papers.esft.backbone import PretrainParams, cache_key

    arch = {"num_hidden_layers": 2}
    training = {"optim": {"betas": [0.9, 0.95]}, "mixed_precision": "no", "grad_accum": 1,
                "device": "cpu"}
    base = cache_key(arch, PretrainParams(), 0, training)
    assert base == cache_key(dict(arch), PretrainParams(), 0, dict(training))
    assert base != cache_key({"num_hidden_layers": 3}, PretrainParams(), 0, training)
    assert base != cache_key(arch, PretrainParams(steps=10), 0, training)
    assert base != cache_key(arch, PretrainParams(), 1, training)
    assert base != cache_key(arch, PretrainParams(), 0, {**training, "device": "cuda"})
    assert base != cache_key(arch, PretrainParams(), 0,
                             {**training, "optim": {"betas": [0.9, 0.999]}})


def test_the_bench_runs_and_prints_its_ratios():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "scripts" / "bench_esft.py"), "--steps",
                          "1", "--batch", "2"], capture_output=True, text=True, check=True,
                         cwd=root).stdout
    assert out.count("ratio step_time") == 3 and "| esft_gate |" in out
