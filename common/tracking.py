"""The tracker: Weights & Biases (online, offline or disabled) plus local JSON files, always.

Every run folder gets ``metrics.jsonl`` (one line per ``log`` call) and ``results.json``
(resolved config, final metrics, git commit, wall time, status), so runs can be compared without
an account; ``wandb sync <run>/wandb/offline-run-*`` uploads an offline run later.
"""

from __future__ import annotations

import json
import math
import netrc
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MODES = ("auto", "online", "offline", "disabled")


def git_commit() -> str | None:
    """The repository's HEAD commit (with ``-dirty`` when the tree has changes), if available."""
    try:
        root = Path(__file__).resolve().parent.parent
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def wandb_key_available() -> bool:
    """True when a W&B API key is configured (env ``WANDB_API_KEY`` or ``~/.netrc``)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(mode: str) -> str:
    """``auto`` becomes ``WANDB_MODE`` when set, else online with a key and offline without."""
    if mode not in MODES:
        raise ValueError(f"tracking.mode must be one of {MODES}, got {mode!r}")
    if mode != "auto":
        return mode
    env = os.environ.get("WANDB_MODE")
    if env:
        return "disabled" if env == "dryrun" else env
    return "online" if wandb_key_available() else "offline"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _earlier_wall_time(run_dir: Path) -> float:
    """Seconds an interrupted earlier attempt of this run already spent (its results.json)."""
    try:
        return float(json.loads((run_dir / "results.json").read_text()).get("wall_time_s", 0.0))
    except (OSError, ValueError):
        return 0.0


def _drop_repeated_rows(path: Path) -> None:
    """After a resume the steps between the last checkpoint and the crash are logged again: keep
    one row per (step, metric names), the later one, in the order of the final rows."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    last = {}
    for i, row in enumerate(rows):
        last[(row.get("step"), tuple(sorted(row)))] = i
    keep = sorted(last.values())
    path.write_text("".join(json.dumps(rows[i]) + "\n" for i in keep))


class Tracker:
    """Logs metrics to wandb (when enabled) and to the run folder's JSON files. In a
    multi-process run only the main process (``main_process``) writes anything."""

    def __init__(
        self,
        run_dir: Path,
        config: Mapping[str, Any],
        *,
        mode: str = "auto",
        project: str = "repro",
        entity: str | None = None,
        group: str | None = None,
        name: str | None = None,
        tags: list[str] | None = None,
        main_process: bool = True,
        resume: bool = False,
        quiet: bool = True,
    ):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config = dict(config)
        self.main_process = main_process
        self.mode = resolve_mode(mode) if main_process else "disabled"
        metrics_path = self.run_dir / "metrics.jsonl" if main_process else os.devnull
        self._metrics_file = open(metrics_path, "a")  # noqa: SIM115
        self._summary: dict[str, Any] = {}
        self._start = time.time()
        self._resume = resume
        self._earlier_s = _earlier_wall_time(self.run_dir) if resume else 0.0
        self._wandb = None
        self._quiet = quiet
        if self.mode != "disabled":
            if quiet:
                os.environ.setdefault("WANDB_SILENT", "true")
            import wandb

            self._wandb = wandb.init(
                project=project,
                entity=entity,
                group=group,
                name=name,
                tags=tags,
                config=self.config,
                dir=str(self.run_dir),
                mode=self.mode,
                reinit="create_new",
            )

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log a dict of scalars (slash-separated names); ``step`` is recorded as a field."""
        row = {k: _jsonable(v) for k, v in metrics.items()}
        record = {"step": step, **row} if step is not None else row
        self._metrics_file.write(json.dumps(record) + "\n")
        self._metrics_file.flush()
        if self._wandb is not None:
            self._wandb.log(record)

    def summary(self, metrics: Mapping[str, Any]) -> None:
        """Record final numbers: they go to ``results.json`` and the wandb run summary."""
        row = {k: _jsonable(v) for k, v in metrics.items()}
        self._summary.update(row)
        if self._wandb is not None:
            self._wandb.summary.update(row)

    def log_image(self, key: str, path: Path) -> None:
        """Attach a PNG written in the run folder to the wandb run (it stays in the folder)."""
        if self._wandb is not None:
            import wandb

            self._wandb.log({key: wandb.Image(str(path))})

    def close(self, status: str = "finished", error: str | None = None) -> dict[str, Any]:
        """Write ``results.json`` and finish the wandb run; returns what was written."""
        results = {
            "status": status,
            "metrics": self._summary,
            "config": self.config,
            "git_commit": git_commit(),
            "wall_time_s": round(self._earlier_s + time.time() - self._start, 3),
            "wandb_mode": self.mode,
        }
        if error:
            results["error"] = error
        if self.main_process:
            (self.run_dir / "results.json").write_text(
                json.dumps(results, indent=2, default=str))
        self._metrics_file.close()
        if self._resume and self.main_process:
            _drop_repeated_rows(self.run_dir / "metrics.jsonl")
        if self._wandb is not None:
            folder = Path(self._wandb.dir).parent
            self._wandb.finish(exit_code=0 if status == "finished" else 1)
            self._wandb = None
            if self._quiet:
                upload = f"; upload with: wandb sync {folder}" if self.mode == "offline" else ""
                print(f"wandb: {self.mode} run in {folder}{upload}")
        return results
