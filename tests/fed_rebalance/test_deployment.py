"""Flower for real: a SuperLink and two SuperNodes on localhost run the smoke config through
``flwr run`` and report the in-process run's per-round metrics; so does Flower's Ray runtime."""

import ast
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from conftest import ROOT, compose
from omegaconf import OmegaConf

APP = ROOT / "papers" / "fed_rebalance" / "flower_app"
BIN = Path(sys.executable).parent  # the venv's flower-superlink, flower-supernode, flwr
SMOKE = "fed_rebalance/smoke"
TWO_CLIENTS = ("task.fed.num_clients=2", "task.fed.per_round=2", "device=cpu")
ROUND_LINE = re.compile(r"^round \d+: (\{.*\})$", re.MULTILINE)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Return once ``port`` accepts connections; fail if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on port {port} after {timeout_s:.0f} s")
        time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group (the process, its SuperExec and the app processes it
    started), then SIGKILL to whatever of the group is left after 10 s."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture
def superlink(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An insecure SuperLink and two SuperNodes (partitions 0 and 1) on free localhost ports,
    with the Flower home (connection ``test``, installed apps) in ``tmp_path``; yields the
    environment for ``flwr``. Every process group is killed at teardown, pass or fail. Logs:
    ``tmp_path/<process>.log``."""
    home = tmp_path / "flwr_home"
    home.mkdir()
    port = _free_port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "test"\n\n[superlink.test]\n'
        f'address = "127.0.0.1:{port}"\ninsecure = true\n'
    )
    # the SuperLink and SuperNodes start flower-superexec from PATH
    env = {**os.environ, "FLWR_HOME": str(home), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    procs: list[subprocess.Popen] = []

    def start(name: str, *command: str) -> None:
        with open(tmp_path / f"{name}.log", "wb") as log:
            procs.append(subprocess.Popen([str(BIN / command[0]), *command[1:]], env=env,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))

    try:
        start("superlink", "flower-superlink", "--insecure", "--port", str(port),
              "--disable-runtime-dependency-installation")
        for pid in range(2):
            start(f"supernode{pid}", "flower-supernode", "--insecure", "--superlink",
                  f"127.0.0.1:{port}", "--port", str(_free_port()),
                  "--node-config", f"partition-id={pid}")
        _wait_for_port(port, procs[0])
        yield env
    finally:
        for proc in procs:
            _stop(proc)


def _per_round(results: dict) -> list[dict[str, float]]:
    """Each round's training and test metrics of a ``common.run`` run (its ``metrics.jsonl``)."""
    rows = (Path(results["run_dir"]) / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(row).items() if k.startswith(("train/", "test/"))}
            for row in rows]


def _assert_same_rounds(got: list[dict[str, float]], want: list[dict[str, float]]) -> None:
    """Same rounds, same metrics to float noise (rel. 1e-6: thread counts may differ between
    processes; the losses differ by ~1e-8 under Ray's one-thread actors)."""
    assert len(want) == 2 and len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, rel=1e-6)


@pytest.mark.slow
def test_flwr_run_on_a_local_superlink_matches_the_in_process_run(
    superlink, run_experiment, tmp_path
):
    """``flwr run`` of the Flower App against the SuperLink; the ServerApp's ``round r: {...}``
    log lines (``--stream``) are the in-process run's per-round losses and test accuracies."""
    run_config = tmp_path / "run.toml"
    yaml = OmegaConf.to_yaml(compose(SMOKE, *TWO_CLIENTS), resolve=True)
    run_config.write_text(f"fed-config = '''\n{yaml}'''\n")
    out = subprocess.run(
        [str(BIN / "flwr"), "run", str(APP), "test", "--run-config", str(run_config), "--stream"],
        env=superlink, capture_output=True, text=True, timeout=300,
    )
    deployed = [ast.literal_eval(m) for m in ROUND_LINE.findall(out.stdout)]
    assert len(deployed) == 2, f"{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    _assert_same_rounds(deployed, _per_round(run_experiment(SMOKE, *TWO_CLIENTS)))


@pytest.mark.slow
def test_flower_ray_runtime_runs_the_smoke_config_like_the_in_process_run(run_experiment, tmp_path):
    """``task.flower.backend=ray``, one CPU per client actor: the pool holds one actor per CPU
    (2 on a 2-core machine), so the round's two clients train in two actors at once."""
    ray = run_experiment(SMOKE, *TWO_CLIENTS, "task.engine=flower", "task.flower.backend=ray",
                         run_dir=tmp_path / "ray")
    _assert_same_rounds(_per_round(ray), _per_round(run_experiment(SMOKE, *TWO_CLIENTS)))
