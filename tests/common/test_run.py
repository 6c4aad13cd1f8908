"""The Hydra entry: composition, determinism, results files, failures, resume, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from common.run import execute

ROOT = Path(__file__).resolve().parents[2]
TOY = ["paper=toy", "name=toy", "tracking=disabled", "progress=false",
       "+task={_target_: toy_experiment.run_toy}"]


def toy_cfg(*overrides: str):
    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        return compose("run", overrides=[*TOY, *overrides])


def test_same_seed_same_metrics_other_seed_differs(tmp_path):
    a = execute(toy_cfg("seed=3"), tmp_path / "a")["metrics"]
    b = execute(toy_cfg("seed=3"), tmp_path / "b")["metrics"]
    c = execute(toy_cfg("seed=4"), tmp_path / "c")["metrics"]
    assert a == b
    assert a["weight_sum"] != c["weight_sum"]


def test_results_and_metrics_files(tmp_path):
    execute(toy_cfg("seed=1"), tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "finished"
    assert set(results["metrics"]) == {"val/acc", "epochs", "weight_sum"}
    assert results["config"]["seed"] == 1 and "wall_time_s" in results
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in lines] == [1, 2, 3, 4, 5, 6]
    assert all("train/loss" in row and "val/acc" in row for row in lines)


def test_failure_still_closes_tracker(tmp_path):
    with pytest.raises(RuntimeError, match="interrupted"):
        execute(toy_cfg("+task.fail_at=3"), tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "failed" and "interrupted" in results["error"]


def test_resume_continues_to_the_uninterrupted_result(tmp_path):
    reference = execute(toy_cfg("seed=2"), tmp_path / "ref")["metrics"]
    run_dir = tmp_path / "crashed"
    with pytest.raises(RuntimeError):
        execute(toy_cfg("seed=2", "+task.fail_at=5"), run_dir)
    assert (run_dir / "checkpoints" / "toy.pt").exists()
    resumed = execute(toy_cfg("seed=2", "resume=true"), tmp_path / "new")
    assert resumed["run_dir"] == str(run_dir)
    assert resumed["metrics"] == reference


def test_typo_in_override_fails_at_composition():
    with pytest.raises(ConfigCompositionException):
        toy_cfg("trainer.max_epochz=3")


def test_cli_writes_run_dir_and_honours_hydra_run_dir(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    out = tmp_path / "cli"
    proc = subprocess.run(
        [sys.executable, "-m", "common.run", *TOY, "seed=5", f"hydra.run.dir={out}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "results.json").read_text())["status"] == "finished"
    assert "val/acc" in proc.stdout


def test_undefined_metrics_are_kept_as_nan(tmp_path):
    from common.run import format_metrics
    from common.tracking import Tracker

    tracker = Tracker(tmp_path, {}, mode="disabled")
    tracker.summary({"r": float("nan"), "acc": 0.5})
    metrics = tracker.close()["metrics"]
    assert json.loads((tmp_path / "results.json").read_text())["metrics"]["r"] == "nan"
    assert "| r | nan |" in format_metrics(metrics)


def test_threads_option_does_not_leak_into_the_caller(tmp_path):
    import torch

    before = torch.get_num_threads()
    execute(toy_cfg("threads=1"), tmp_path)
    assert torch.get_num_threads() == before
