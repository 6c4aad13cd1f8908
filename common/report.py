"""Compare runs: mean ± std over seeds, grouped by the config values that differ.

Reads ``results.json`` from local run folders (or a W&B project's runs) and prints markdown
tables; ``plot_groups`` draws one bar chart per experiment and metric.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.metrics import mean_std

IGNORED_PREFIXES = ("paths.", "tracking.", "hydra.")
IGNORED_KEYS = {"seed", "progress", "resume", "device", "deterministic"}


@dataclass
class Run:
    """One finished run: ``config`` flattened (``model.name``), ``nested`` as written."""

    paper: str
    name: str
    config: dict[str, Any]
    metrics: dict[str, float]
    run_dir: Path | None = None
    nested: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float | None = None
    finished_at: float = 0.0

    @property
    def seed(self) -> Any:
        return self.config.get("seed")


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values (as their JSON text)."""
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: json.dumps(node) if isinstance(node, list) else node}


def load_local(roots: Iterable[Path], paper: str | None = None) -> list[Run]:
    """Every finished run under ``roots`` (folders holding ``results.json``), optionally only
    those of ``paper``: the one run loader that the per-paper reports build on."""
    runs = []
    for root in roots:
        for file in sorted(Path(root).rglob("results.json")):
            data = json.loads(file.read_text())
            config = data.get("config", {})
            if data.get("status") != "finished" or paper not in (None, config.get("paper")):
                continue
            runs.append(Run(str(config.get("paper")), str(config.get("name")),
                            flatten(config), dict(data.get("metrics", {})), file.parent, config,
                            data.get("wall_time_s"), file.stat().st_mtime))
    return runs


def load_wandb(path: str) -> list[Run]:
    """Finished runs of the W&B project ``entity/project``."""
    import wandb

    runs = []
    for run in wandb.Api().runs(path, filters={"state": "finished"}):
        config = dict(run.config)
        metrics = {k: v for k, v in run.summary.items() if isinstance(v, int | float)}
        runs.append(Run(str(config.get("paper")), str(config.get("name")), flatten(config),
                        metrics))
    return runs


def _varying_keys(runs: list[Run]) -> list[str]:
    keys = sorted({k for r in runs for k in r.config})
    varying = []
    for key in keys:
        if key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES):
            continue
        if len({json.dumps(r.config.get(key), default=str) for r in runs}) > 1:
            varying.append(key)
    return varying


@dataclass
class Group:
    paper: str
    name: str
    setting: str
    n: int
    stats: dict[str, tuple[float, float]]


def group_runs(runs: list[Run]) -> list[Group]:
    """Group runs per (paper, experiment) and per value of the config keys that differ."""
    by_experiment: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        by_experiment[(run.paper, run.name)].append(run)
    groups = []
    for (paper, name), members in sorted(by_experiment.items()):
        keys = _varying_keys(members)
        cells: dict[str, list[Run]] = defaultdict(list)
        for run in members:
            setting = ", ".join(f"{k}={run.config.get(k)}" for k in keys) or "default"
            cells[setting].append(run)
        for setting, cell in sorted(cells.items()):
            cell = newest_per_seed(cell)
            metric_names = sorted({m for r in cell for m in r.metrics})
            stats = {
                m: mean_std([float(r.metrics[m]) for r in cell if m in r.metrics])
                for m in metric_names
            }
            groups.append(Group(paper, name, setting, len(cell), stats))
    return groups


def newest_per(runs: list[Run], keys: Sequence[str]) -> list[Run]:
    """One run per value of the config ``keys``: a re-run replaces the older one."""
    newest: dict[str, Run] = {}
    for run in sorted(runs, key=lambda r: r.finished_at):
        newest[json.dumps([run.config.get(k) for k in keys], default=str)] = run
    return list(newest.values())


def seed_values(runs: Sequence[Run], keys: Sequence[str]) -> dict[tuple, dict[str, list[float]]]:
    """Runs grouped by the config ``keys`` (a tuple of their values as strings) -> metric -> one
    value per seed, from the newest run of that seed that logged the metric (a run that stopped
    early does not hide an older complete one): what the paper reports average."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(str(run.config.get(k)) for k in keys), []).append(run)
    out: dict[tuple, dict[str, list[float]]] = {}
    for key, members in groups.items():
        metrics = sorted({m for r in members for m in r.metrics})
        out[key] = {m: [float(r.metrics[m]) for r in newest_per(
            [r for r in members if m in r.metrics], ("seed",))] for m in metrics}
    return out


def newest_per_seed(runs: list[Run]) -> list[Run]:
    """One run per seed, so ``n`` counts seeds."""
    return newest_per(runs, ("seed",))


STD_NOTE = "mean ± sample std (ddof=1) over n distinct seeds"


def format_mean(values: Iterable[float], digits: int = 2) -> str:
    """A table cell: the mean of the finite ``values`` ("-" for none), ``± std`` from two on."""
    kept = [float(v) for v in values if v == v]
    if not kept:
        return "-"
    mean, std = mean_std(kept)
    return f"{mean:.{digits}f}" if len(kept) < 2 else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _fmt(mean: float, std: float, n: int) -> str:
    return f"{mean:.4f}" if n < 2 else f"{mean:.4f} ± {std:.4f}"


def _per_experiment(
    groups: list[Group], metric_filter: str | None
) -> list[tuple[str, str, list[Group], list[str]]]:
    """(paper, experiment, its groups, its metric names passing the filter), in order."""
    by_experiment: dict[tuple[str, str], list[Group]] = defaultdict(list)
    for group in groups:
        by_experiment[(group.paper, group.name)].append(group)

    def wanted(metric: str) -> bool:
        return metric_filter is None or metric_filter in metric

    return [
        (paper, name, members, sorted({m for g in members for m in g.stats if wanted(m)}))
        for (paper, name), members in by_experiment.items()
    ]


def markdown_wide(groups: list[Group], metric_filter: str | None = None) -> str:
    """One table per experiment: a row per setting, a column per metric."""
    out = [f"{STD_NOTE}\n"]
    for paper, name, members, metrics in _per_experiment(groups, metric_filter):
        out.append(f"### {paper} / {name}\n")
        out.append("| setting | n | " + " | ".join(metrics) + " |")
        out.append("| --- | --- | " + " | ".join("---" for _ in metrics) + " |")
        for g in members:
            cells = [_fmt(*g.stats[m], g.n) if m in g.stats else "" for m in metrics]
            out.append(f"| {g.setting} | {g.n} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def markdown_long(groups: list[Group], metric_filter: str | None = None) -> str:
    """One table across papers: a row per (experiment, setting, metric)."""
    out = [f"{STD_NOTE}\n",
           "| paper | experiment | setting | metric | mean ± std | n |",
           "| --- | --- | --- | --- | --- | --- |"]
    for g in groups:
        for metric, (mean, std) in sorted(g.stats.items()):
            if metric_filter is None or metric_filter in metric:
                out.append(f"| {g.paper} | {g.name} | {g.setting} | {metric} | "
                           f"{_fmt(mean, std, g.n)} | {g.n} |")
    return "\n".join(out)


@contextmanager
def figure(path: Path, size: tuple[float, float] = (4.5, 3.5), dpi: int = 150, ncols: int = 1):
    """``with figure(path) as (fig, ax): ...`` draws on a fresh Agg figure, then saves it to
    ``path`` (parents created) and closes it: the matplotlib set-up every report shares. With
    ``ncols`` > 1, ``ax`` is the row of ``ncols`` panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, ncols, figsize=size)
    try:
        yield fig, ax
        fig.tight_layout()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)


def plot_groups(groups: list[Group], out_dir: Path, metric_filter: str | None = None) -> list[Path]:
    """A bar chart (mean ± std) per experiment and metric; returns the PNG paths."""
    written = []
    for paper, name, members, metrics in _per_experiment(groups, metric_filter):
        for metric in metrics:
            rows = [g for g in members if metric in g.stats]
            path = out_dir / f"{paper}_{name}_{metric.replace('/', '_')}.png"
            with figure(path, (max(4, 1 + 0.8 * len(rows)), 3.5), dpi=120) as (_, ax):
                ax.bar(range(len(rows)), [g.stats[metric][0] for g in rows],
                       yerr=[g.stats[metric][1] for g in rows], capsize=3)
                ax.set_xticks(range(len(rows)), [g.setting for g in rows], rotation=30,
                              ha="right", fontsize=7)
                ax.set_title(f"{paper}/{name}: {metric}")
            written.append(path)
    return written


def report_cli(paper: str, description: str, render: Callable[[list[Run]], str],
               argv: list[str] | None = None) -> int:
    """The command line of a paper's report module: run folders (default ``runs/<paper>``) ->
    ``render``'s tables of the paper's finished runs, smoke runs left out."""
    import argparse

    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("dirs", nargs="*", type=Path, default=[Path("runs") / paper])
    args = parser.parse_args(argv)
    runs = [r for r in load_local(args.dirs, paper=paper) if r.name != "smoke"]
    if not runs:
        print(f"no finished {paper} run under {[str(d) for d in args.dirs]}")
        return 1
    print(render(runs))
    return 0
