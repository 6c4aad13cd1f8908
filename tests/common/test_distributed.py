"""Multi-process runs: two CPU processes (gloo) under ``torchrun`` and under ``accelerate
launch`` train ``experiment=text/smoke`` to the one-process metrics and leave exactly one run
folder with one ``results.json`` and one W&B run, all written by rank 0.

Dropout is off in both runs: each process draws its dropout masks for its half of every batch,
which no single-process run can reproduce; without it the two-process run (each rank takes 8 of
every 16 sentences, gradients averaged) must agree with the one-process run to rounding.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import compose

from common.run import execute

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NO_DROPOUT = ["+model.hidden_dropout_prob=0.0", "+model.attention_probs_dropout_prob=0.0"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LAUNCHERS = {
    "torchrun": lambda: [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2"],
    # accelerate launch --cpu runs a single process on one machine (multi-CPU needs mpirun);
    # --multi_gpu is its torch.distributed launcher, which on CPU-only torch joins with gloo.
    "accelerate": lambda: [str(BIN / "accelerate"), "launch", "--multi_gpu",
                           "--num_processes", "2", "--num_machines", "1",
                           "--mixed_precision", "no", "--dynamo_backend", "no",
                           "--main_process_port", str(_free_port())],
}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("one-process")
    return execute(compose("text/smoke", "device=cpu", *NO_DROPOUT), run_dir)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_two_processes_match_one_and_write_one_run(launcher, one_process, tmp_path):
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUN_ID", "WANDB_MODE", "RANK", "WORLD_SIZE", "LOCAL_RANK")}
    proc = subprocess.run(
        [*LAUNCHERS[launcher](), "-m", "common.run", "experiment=text/smoke", "device=cpu",
         "tracking=offline", "progress=false", f"paths.runs={runs}", *NO_DROPOUT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "text/smoke (seed 0, 2 processes)" in proc.stdout

    (run_dir,) = (runs / "text" / "smoke").iterdir()
    assert run_dir.name.endswith("-ddp2")
    assert [p.parent for p in runs.rglob("results.json")] == [run_dir]
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "finished" and results["wandb_mode"] == "offline"

    expected = one_process["metrics"]
    assert sorted(results["metrics"]) == sorted(expected)
    for key, value in expected.items():
        assert results["metrics"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key

    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    reference = (Path(one_process["run_dir"]) / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [json.loads(r)["step"] for r in reference]
