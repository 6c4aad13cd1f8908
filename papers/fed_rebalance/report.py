"""Tables of finished fed_rebalance runs and the accuracy-per-round curves of compared runs.

    .venv/bin/python -m papers.fed_rebalance.report [runs/fed_rebalance ...] [--figures DIR]

One row per (config, method): head / medium / tail / overall test accuracy (%) as mean ± sample
std over the newest run per seed, and the wall minutes per run. A run that compares methods on
one federation (``task.compare``, e.g. ``demo``, ``long``) gives one row per method; with
``--figures``, its overall and tail accuracy per round are drawn (``<config>_rounds.png``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from common.report import Run, figure, format_mean, load_local, newest_per, seed_values

GROUPS = ("head", "medium", "tail", "all")
COST_OPTIONS = {"task.method.prototypes_from": "received_model",
                "task.method.real_gradient_from": "balanced_set",
                "task.method.proto_dtype": "float32"}
"""RedGrape's cost options and their paper defaults: a run with another value is its own row."""


def variant(run: Run) -> str:
    """The non-default cost options of a run ("" for the paper's variant)."""
    return ", ".join(f"{k.rsplit('.', 1)[1]}={run.config[k]}" for k, default in
                     COST_OPTIONS.items() if run.config.get(k, default) != default)


def method_prefixes(metrics: dict[str, float]) -> list[str]:
    """``["redgrape/", "fedavg/"]`` for a compared run, ``[""]`` for a single-method one."""
    found = sorted({k[: -len("test/all_acc")] for k in metrics if k.endswith("test/all_acc")})
    return found or [""]


def table(runs: Sequence[Run]) -> str:
    """The README's results table: one row per (config, method), mean ± std over seeds."""
    out = ["| config | method | head | medium | tail | overall | seeds | min / run |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, values in sorted(seed_values(runs, ("name", *COST_OPTIONS)).items()):
        members = [r for r in runs if (r.name, *(str(r.config.get(k)) for k in COST_OPTIONS))
                   == key]
        name, options = key[0], variant(members[0])
        seeds = len(newest_per(members, ("seed",)))
        minutes = format_mean((r.wall_time_s / 60 for r in members if r.wall_time_s), 1)
        for prefix in method_prefixes({k: v[0] for k, v in values.items()}):
            method = prefix.rstrip("/") or name
            if options and prefix != "fedavg/":
                method += f" ({options})"
            cells = " | ".join(format_mean((100 * v for v in values.get(
                f"{prefix}test/{g}_acc", [])), 1) for g in GROUPS)
            out.append(f"| {name} | {method} | {cells} | {seeds} | {minutes} |")
    return "\n".join(out)


def round_curves(run: Run) -> dict[str, tuple[list[int], list[float], list[float]]]:
    """Per method of a run: the evaluated rounds, overall and tail test accuracy (%) from its
    ``metrics.jsonl``."""
    curves: dict[str, tuple[list[int], list[float], list[float]]] = {}
    lines = (run.run_dir / "metrics.jsonl").read_text().splitlines()
    for prefix in method_prefixes(run.metrics):
        rounds, overall, tail = [], [], []
        for record in map(json.loads, lines):
            if f"{prefix}test/all_acc" in record:
                rounds.append(int(record["step"]))
                overall.append(100 * record[f"{prefix}test/all_acc"])
                tail.append(100 * record[f"{prefix}test/tail_acc"])
        curves[prefix.rstrip("/") or run.name] = (rounds, overall, tail)
    return curves


def round_figure(run: Run, path: Path) -> Path:
    """Overall (solid) and tail (dashed) test accuracy against the round, one colour per
    method."""
    with figure(path, (5, 3.5)) as (_, ax):
        for i, (method, (rounds, overall, tail)) in enumerate(round_curves(run).items()):
            ax.plot(rounds, overall, color=f"C{i}", marker="o", ms=3, label=f"{method} overall")
            ax.plot(rounds, tail, color=f"C{i}", ls="--", label=f"{method} tail")
        ax.set_xlabel("round")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"fed_rebalance/{run.name} (seed {run.seed})")
        ax.legend(fontsize=7)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("dirs", nargs="*", type=Path, default=[Path("runs/fed_rebalance")])
    parser.add_argument("--figures", type=Path, default=None)
    args = parser.parse_args(argv)
    runs = [r for r in load_local(args.dirs, paper="fed_rebalance") if r.name != "smoke"]
    if not runs:
        print(f"no finished fed_rebalance run under {[str(d) for d in args.dirs]}")
        return 1
    print(table(runs))
    if args.figures is not None:
        compared = [r for r in runs
                    if len(method_prefixes(r.metrics)) > 1 and r.run_dir and not variant(r)]
        for run in newest_per(compared, ("name",)):
            print(round_figure(run, args.figures / f"{run.name}_rounds.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
