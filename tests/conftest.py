"""Test environment: no network, no W&B, the offline mirror, and a per-test experiment runner."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"

os.environ["WANDB_MODE"] = "disabled"
os.environ["WANDB_SILENT"] = "true"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["FLWR_TELEMETRY_ENABLED"] = "0"
_default_mirror = ROOT.parent / "shared" / "data"
if not os.environ.get("REPRO_MIRROR") and _default_mirror.exists():
    os.environ["REPRO_MIRROR"] = str(_default_mirror)


def compose(experiment: str, *overrides: str):
    """Compose ``experiment=<experiment>`` with ``overrides`` exactly as the CLI would."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        return hydra_compose(
            "run",
            overrides=[f"experiment={experiment}", "tracking=disabled", "progress=false",
                       *overrides],
        )


@pytest.fixture
def run_experiment(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``run_experiment("madgap/smoke", "seed=1")`` runs a config in its own run dir and returns
    the ``results.json`` content (plus ``run_dir``)."""
    from common.run import execute

    def run(experiment: str, *overrides: str, run_dir: Path | None = None) -> dict[str, Any]:
        cfg = compose(experiment, *overrides)
        return execute(cfg, run_dir or tmp_path / "run")

    return run


def load_or_skip(load: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``load(*args, **kwargs)``, or skip the test naming the absent asset (an absent offline
    model package); any other error fails the test."""
    from common.assets import find_asset_error

    try:
        return load(*args, **kwargs)
    except Exception as err:
        if find_asset_error(err) is None:
            raise
        pytest.skip(str(find_asset_error(err)))


@pytest.fixture
def mirror_asset() -> Callable[[str], Path]:
    """``mirror_asset("planetoid/Cora/raw")``: the mirror path, or skip naming the absent asset."""

    def find(rel: str) -> Path:
        mirror = os.environ.get("REPRO_MIRROR")
        if not mirror or not (Path(mirror) / rel).exists():
            pytest.skip(f"asset '{rel}' is not in the mirror (REPRO_MIRROR={mirror})")
        return Path(mirror) / rel

    return find
