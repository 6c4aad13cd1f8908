"""The single entry point: ``python -m common.run experiment=<paper>/<name> [overrides]``.

Composes the config, seeds everything, opens the tracker, calls the experiment named by
``task._target_`` with a :class:`RunContext`, writes ``results.json``, and closes the tracker in a
``finally`` (also when the experiment raises).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Mapping
from numbers import Number
from pathlib import Path
from typing import Any

import hydra
import torch
import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from common.assets import AssetError, find_asset_error
from common.context import RunContext, pick_device
from common.frontdoor import check_command_line, check_config
from common.params import ConfigError, build_params, params_type
from common.seeding import seed_everything
from common.tracking import Tracker


def process_rank() -> tuple[int, int]:
    """(rank, world size) of this process under ``torchrun`` / ``accelerate launch``, from the
    ``RANK`` / ``WORLD_SIZE`` their launchers set; (0, 1) for a plain ``python -m common.run``."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def prepare_task(cfg: DictConfig) -> tuple[Any, tuple, dict[str, Any]]:
    """The experiment function named by ``task._target_`` and its arguments: a typed dataclass
    when the function declares one (validated here, before any work), else keyword arguments."""
    if "_target_" not in cfg.task:
        raise ValueError("task._target_ is missing: name the experiment function to call")
    task = OmegaConf.to_container(cfg.task, resolve=True)
    experiment = hydra.utils.get_method(task.pop("_target_"))
    cls = params_type(experiment)
    if cls is not None:
        return experiment, (build_params(cls, task),), {}
    params = hydra.utils.instantiate(task, _convert_="all") if task else {}
    return experiment, (), params


def _find_resumable(run_dir: Path) -> Path:
    """``resume=true``: this run folder if it has checkpoints, else the newest unfinished sibling
    run of the same experiment that has checkpoints (the folder a crashed run left)."""
    if (run_dir / "checkpoints").exists():
        return run_dir
    candidates = []
    for sibling in run_dir.parent.glob("*"):
        if sibling == run_dir or not (sibling / "checkpoints").exists():
            continue
        results = sibling / "results.json"
        if results.exists() and json.loads(results.read_text()).get("status") == "finished":
            continue
        candidates.append(sibling)
    if not candidates:
        return run_dir
    return max(candidates, key=lambda p: (p / "checkpoints").stat().st_mtime)


def _tags(cfg: DictConfig) -> list[str]:
    tags = [f"paper:{cfg.paper}", f"experiment:{cfg.name}", f"seed:{cfg.seed}"]
    for group in ("data", "model"):
        node = cfg.get(group)
        if isinstance(node, Mapping) and node.get("name"):
            tags.append(f"{group}:{node['name']}")
    return tags + list(cfg.tracking.get("tags") or [])


def _check_metrics(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise TypeError(f"an experiment must return a dict of numbers, got {type(metrics)}")
    bad = {k: type(v).__name__ for k, v in metrics.items() if not isinstance(v, Number)}
    if bad:
        raise TypeError(f"experiment metrics must be numbers; not numbers: {bad}")
    return {k: float(v) for k, v in metrics.items()}


def execute(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Run the composed config ``cfg`` in ``run_dir``; returns the ``results.json`` content.

    The config is validated (:func:`common.frontdoor.check_config`, the typed task) before the
    run folder is created; an :class:`AssetError` raised inside ``hydra.utils.instantiate``
    arrives as itself, not wrapped."""
    check_config(cfg)
    experiment, args, kwargs = prepare_task(cfg)
    rank, world = process_rank()
    run_dir = _find_resumable(Path(run_dir)) if cfg.resume else Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = Path(os.path.expanduser(str(cfg.paths.cache)))
    os.environ["REPRO_CACHE"] = str(cache)
    if cfg.paths.get("mirror"):
        os.environ["REPRO_MIRROR"] = str(Path(str(cfg.paths.mirror)).expanduser().resolve())
    outer_threads = torch.get_num_threads()
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    generator = seed_everything(int(cfg.seed), bool(cfg.deterministic))
    resolved = OmegaConf.to_container(cfg, resolve=True)
    tracking = cfg.tracking
    tracker = Tracker(
        run_dir,
        resolved,
        mode=tracking.mode,
        project=tracking.project,
        entity=tracking.entity,
        group=tracking.group,
        name=f"{cfg.paper}/{cfg.name}/seed{cfg.seed}",
        tags=_tags(cfg),
        main_process=rank == 0,
        resume=bool(cfg.resume),
        quiet=bool(cfg.tracking.get("quiet", True)),
    )
    ctx = RunContext(
        cfg=cfg,
        run_dir=run_dir,
        tracker=tracker,
        seed=int(cfg.seed),
        generator=generator,
        device=pick_device(str(cfg.device)),
        cache_dir=cache,
        resume=bool(cfg.resume),
        show_progress=bool(cfg.progress),
    )
    status, error = "failed", None
    try:
        metrics = _check_metrics(experiment(ctx, *args, **kwargs))
        tracker.summary(metrics)
        status = "finished"
    except BaseException as err:
        error = traceback.format_exc()
        asset = find_asset_error(err)
        if asset is not None and asset is not err:
            raise asset from None
        raise
    finally:
        results = tracker.close(status, error)
        torch.set_num_threads(outer_threads)
    return {**results, "run_dir": str(run_dir), "rank": rank, "world_size": world}


def _remove_stub(folder: Path, runs_root: Path) -> None:
    """Delete a run folder Hydra created that holds nothing of a run (only ``.hydra/`` and its
    log), and the empty parents it left under ``runs_root``."""
    if not folder.is_dir() or any(p.name not in (".hydra", "run.log") for p in folder.iterdir()):
        return
    shutil.rmtree(folder)
    parent = folder.parent
    root = runs_root.resolve()
    while parent.resolve() != root and root in parent.resolve().parents and not any(
            parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def fail(message: str) -> None:
    """Print ``error: <message>`` (no traceback) and exit 2; ``HYDRA_FULL_ERROR=1`` re-raises."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def format_metrics(metrics: Mapping[str, float]) -> str:
    """A two-column markdown table of final metrics, for the console."""
    rows = [f"| {k} | {float(v):.4f} |" for k, v in sorted(metrics.items())]
    return "\n".join(["| metric | value |", "| --- | --- |", *rows])


@hydra.main(version_base="1.3", config_path="../configs", config_name="run")
def main(cfg: DictConfig) -> None:
    hydra_dir = Path(HydraConfig.get().runtime.output_dir)
    runs_root = Path(str(cfg.paths.runs))
    try:
        results = execute(cfg, hydra_dir)
    except ConfigError as err:
        _remove_stub(hydra_dir, runs_root)
        fail(str(err))
    except AssetError as err:
        _remove_stub(hydra_dir, runs_root)
        fail(str(err))
    if Path(results["run_dir"]) != hydra_dir:
        _remove_stub(hydra_dir, runs_root)
    if results["rank"] != 0:
        return
    processes = f", {results['world_size']} processes" if results["world_size"] > 1 else ""
    print(f"\n{cfg.paper}/{cfg.name} (seed {cfg.seed}{processes}) -> {results['run_dir']}")
    print(format_metrics(results["metrics"]))


QUIET_RANK_OVERRIDES = ("hydra.output_subdir=null", "hydra/job_logging=stdout")
"""Hydra overrides for ranks other than 0: no ``.hydra/`` copy and no ``run.log`` in the run
folder, which rank 0 alone writes (its console output stays on the terminal)."""


def share_run_id() -> None:
    """Under ``torchrun`` / ``accelerate launch`` every process must write into one run folder.

    Joins the default process group (gloo for CPU tensors, plus NCCL when CUDA is present; the
    ``Accelerator`` reuses it), binds the process to GPU ``LOCAL_RANK`` when there is one (so
    ``device=auto`` means this rank's GPU), and broadcasts rank 0's ``RUN_ID`` (a timestamp
    ending in ``-ddp<world size>``) to the others before Hydra names the folder from it.
    """
    rank, world = process_rank()
    if world == 1:
        return
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if local_rank < torch.cuda.device_count():
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group()
    if os.environ.get("RUN_ID"):
        return
    stamp = [time.strftime("%Y%m%d-%H%M%S") + f"-ddp{world}" if rank == 0 else None]
    dist.broadcast_object_list(stamp, src=0, device=torch.device("cpu"))
    os.environ["RUN_ID"] = str(stamp[0])


if __name__ == "__main__":
    try:
        check_command_line(sys.argv[1:])
    except ConfigError as error:
        fail(str(error))
    share_run_id()
    if process_rank()[0] != 0:
        sys.argv.extend(QUIET_RANK_OVERRIDES)
    try:
        main()
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
