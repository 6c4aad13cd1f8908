"""Bad input gets one clear line, before any work.

:func:`check_command_line` runs before Hydra (an unknown ``experiment=`` lists the experiments of
that paper; a typo'd key names the nearest existing one instead of Hydra's ``+key`` advice);
:func:`check_config` runs on the composed config before data or models are touched (``seed``,
``trainer.*``, ``optim.lr``, ``schedule``). Both raise :class:`common.params.ConfigError`, which
the entry point prints as ``error: <key>: <what is wrong>; <how to fix>`` with exit status 2.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from common.params import ConfigError, nearest

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def experiments(paper: str | None = None) -> list[str]:
    """``<paper>/<name>`` of every experiment config (files starting with ``_`` are not)."""
    root = CONFIGS / "experiment"
    found = sorted(f"{p.parent.name}/{p.stem}" for p in root.glob("*/*.yaml")
                   if not p.name.startswith("_"))
    return [e for e in found if paper is None or e.startswith(f"{paper}/")]


def _split_override(arg: str) -> tuple[str, str] | None:
    if "=" not in arg or arg.startswith("-"):
        return None
    key, value = arg.split("=", 1)
    return key.lstrip("+~"), value


def check_experiment(name: str) -> None:
    """``experiment=<paper>/<name>`` must name a config; else list what exists."""
    if name in experiments():
        return
    paper = name.split("/")[0]
    same_paper = experiments(paper)
    if same_paper:
        fix = f"{paper} has: {', '.join(e.split('/')[1] for e in same_paper)}"
    else:
        papers = sorted({e.split("/")[0] for e in experiments()})
        fix = f"papers: {', '.join(papers)} (experiment=<paper>/<name>)"
    raise ConfigError(f"experiment={name}", "no such experiment", fix)


def _keys(node: object, prefix: str = "") -> list[str]:
    if not isinstance(node, dict):
        return []
    out = []
    for key, value in node.items():
        out.append(f"{prefix}{key}")
        out.extend(_keys(value, f"{prefix}{key}."))
    return out


def check_command_line(args: Sequence[str]) -> None:
    """Compose the command line's overrides as Hydra will and turn a composition failure into
    one :class:`ConfigError` line (the nearest existing key for a typo)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException, HydraException

    overrides = [a for a in args if _split_override(a) and not a.startswith("hydra")]
    for arg in overrides:
        key, value = _split_override(arg)
        if key == "experiment":
            check_experiment(value)
    if any(a.startswith("-") for a in args):
        return
    try:
        with initialize_config_dir(str(CONFIGS), version_base="1.3"):
            compose("run", overrides=overrides)
    except (ConfigCompositionException, HydraException) as err:
        message = str(err.__cause__ or err)
        match = re.search(r"Key '([^']+)' is not in struct\s+full_key: (\S+)", message)
        if match is None:
            raise ConfigError("command line", message.splitlines()[0],
                              "see HYDRA_FULL_ERROR=1 for details") from None
        full_key = match.group(2)
        with initialize_config_dir(str(CONFIGS), version_base="1.3"):
            known = [a for a in overrides if _split_override(a)[0] != full_key]
            cfg = OmegaConf.to_container(compose("run", overrides=known))
        guess = nearest(full_key, _keys(cfg))
        fix = f"did you mean {guess}?" if guess else f"to add a new key write +{full_key}=..."
        raise ConfigError(full_key, "no such key", fix) from None


def check_config(cfg: DictConfig) -> None:
    """The composed config's core values, checked before any data or model is loaded."""
    from common.optim import build_schedule, check_lr
    from common.training import TrainerConfig

    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("seed", f"{seed!r} is not a non-negative integer", "pass e.g. seed=0")
    if cfg.get("trainer") is not None:
        try:
            TrainerConfig.from_mapping(OmegaConf.to_container(cfg.trainer, resolve=True))
        except (ValueError, TypeError) as err:
            key, _, problem = str(err).partition(": ")
            if not key.startswith("trainer."):
                key, problem = "trainer", str(err)
            raise ConfigError(key, problem, "see configs/trainer/default.yaml") from None
    if cfg.get("optim") is not None:
        check_lr(cfg.optim.get("lr"))
    if cfg.get("schedule") is not None:
        try:
            build_schedule(cfg.schedule)
        except Exception as err:  # noqa: BLE001 - any failure to build is the config's fault
            raise ConfigError("schedule", str(err).splitlines()[0],
                              "see configs/schedule/*.yaml") from None
