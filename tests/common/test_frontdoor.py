"""Bad input through the real entry point: one `error:` line, exit status 2, no run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    environment.update({"PYTHONPATH": str(Path(__file__).parent), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "common.run", "tracking=disabled", "progress=false",
         f"paths.runs={tmp_path / 'runs'}", *args],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("args", "line"), [
    (["experiment=madgap/smoke", "seed=abc"],
     "error: seed: 'abc' is not a non-negative integer; pass e.g. seed=0"),
    (["experiment=madgap/smoke", "optim.lr=-0.01"],
     "error: optim.lr: must be a number > 0, got -0.01; set e.g. optim.lr=0.01"),
    (["experiment=madgap/smoke", "trainer.max_epochs=0"],
     "error: trainer.max_epochs: must be >= 1, got 0"),
    (["experiment=renode/smoke", "task.loss=mse"], "error: task.loss: 'mse' is not allowed"),
    (["experiment=madgap/smoke", "trainer.max_epoch=3"],
     "error: trainer.max_epoch: no such key; did you mean trainer.max_epochs?"),
    (["experiment=madgap/nope"],
     "error: experiment=madgap/nope: no such experiment; madgap has: adagraph, demo"),
])
def test_bad_input_is_one_line_exit_2_and_no_run_folder(tmp_path, args, line):
    proc = cli(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith(line), proc.stderr
    assert "Traceback" not in proc.stderr
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())


def test_full_error_shows_the_traceback(tmp_path):
    proc = cli(tmp_path, "experiment=madgap/smoke", "seed=abc", env={"HYDRA_FULL_ERROR": "1"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


TOY = ["paper=toy", "name=toy", "+task={_target_: toy_experiment.run_toy}"]


def test_resume_without_run_id_leaves_no_stub_and_logs_each_step_once(tmp_path):
    crashed = cli(tmp_path, *TOY, "seed=2", "+task.fail_at=5")
    assert crashed.returncode == 1
    (first,) = (tmp_path / "runs" / "toy" / "toy").iterdir()
    earlier = json.loads((first / "results.json").read_text())["wall_time_s"]
    resumed = cli(tmp_path, *TOY, "seed=2", "resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert [p.name for p in (tmp_path / "runs" / "toy" / "toy").iterdir()] == [first.name]
    results = json.loads((first / "results.json").read_text())
    assert results["status"] == "finished" and results["wall_time_s"] >= earlier
    steps = [json.loads(x)["step"] for x in (first / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
