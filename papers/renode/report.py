"""Table of finished ReNode runs (base vs ReNode, weighted / macro F1 mean ± population std
x 100) and the Totoro-vs-F1 scatter of the correlation runs.

python -m papers.renode.report [runs/renode] [--figures papers/renode/figures]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from common.report import Run, figure, load_local, newest_per

ROW_KEYS = ("name", "data.name", "model.name", "task.split.setting", "task.loss")
FIGURES = Path(__file__).parent / "figures"


def table_runs(runs: list[Run]) -> list[Run]:
    """The finished ``run_renode`` runs, one per (config, data, model, setting, loss)."""
    return newest_per([r for r in runs if "base/test_weighted_f1_mean" in r.metrics],
                             ROW_KEYS)


def paired_wins(path: Path) -> str:
    """How many (split, init) pairs ReNode beats the base run on test weighted-F1, as "k/n"."""
    if not path.exists():
        return "-"
    scores: dict[tuple, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        run = json.loads(line)
        pair = (run["split_seed"], run["init_seed"])
        scores.setdefault(pair, {})[run["variant"]] = run["test/weighted_f1"]
    pairs = [s for s in scores.values() if {"base", "renode"} <= set(s)]
    wins = sum(s["renode"] > s["base"] for s in pairs)
    return f"{wins}/{len(pairs)}"


def cell(metrics: Mapping[str, float], variant: str, name: str) -> str:
    """``mean ± std`` of one variant's test F1 (already x 100)."""
    mean = metrics[f"{variant}/test_{name}_mean"]
    std = metrics[f"{variant}/test_{name}_std"]
    return f"{mean:.1f} ± {std:.1f}"


def markdown(runs: list[Run]) -> str:
    """The README's results table, one line per run."""
    header = (
        "| config | data | model | setting | loss | runs | W-F1 base | W-F1 ReNode | ΔW-F1 "
        "| ReNode wins | M-F1 base | M-F1 ReNode | ΔM-F1 | Totoro | wall s |"
    )
    lines = [header, "|" + " --- |" * 15]
    for run in runs:
        m = run.metrics
        cells = [
            *(str(run.config.get(k)) for k in ROW_KEYS),
            f"{m['runs_per_variant']:.0f}",
            cell(m, "base", "weighted_f1"),
            cell(m, "renode", "weighted_f1"),
            f"{m['delta/test_weighted_f1']:+.1f}",
            paired_wins(run.run_dir / "runs.jsonl"),
            cell(m, "base", "macro_f1"),
            cell(m, "renode", "macro_f1"),
            f"{m['delta/test_macro_f1']:+.1f}",
            f"{m['totoro/mean']:.2e}",
            "-" if run.wall_time_s is None else f"{run.wall_time_s:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def correlation_title(data: str, model: str, metrics: Mapping[str, float]) -> str:
    """Plot title of a correlation run: data, model, Pearson / Spearman of W-F1, n."""
    return (
        f"{data}, {model}: Pearson {metrics['pearson/weighted_f1']:.2f}, "
        f"Spearman {metrics['spearman/weighted_f1']:.2f} (n={metrics['labelled_sets']:.0f})"
    )


def correlation_plot(rows: Sequence[Mapping[str, float]], path: Path, title: str) -> None:
    """Scatter of dataset Totoro against test weighted-F1 (x 100) of each labelled set, with a
    least-squares line (Sec. 3.1 analysis)."""
    x = np.asarray([r["totoro"] for r in rows])
    y = 100.0 * np.asarray([r["weighted_f1"] for r in rows])
    slope, intercept = np.polyfit(x, y, 1)
    with figure(path) as (_, ax):
        ax.scatter(x, y, s=14)
        grid = np.linspace(x.min(), x.max(), 2)
        ax.plot(grid, slope * grid + intercept, color="tab:red", linewidth=1)
        ax.set_xlabel("Totoro of the labelled set")
        ax.set_ylabel("test weighted-F1 (x100)")
        ax.set_title(title, fontsize=9)


def correlation_figures(runs: list[Run], out_dir: Path) -> list[Path]:
    """``totoro_vs_f1_<data>.png`` in ``out_dir`` from the newest correlation run per dataset."""
    correlation = [r for r in runs if "pearson/weighted_f1" in r.metrics]
    written = []
    for run in newest_per(correlation, ("data.name",)):
        rows = json.loads((run.run_dir / "labelled_sets.json").read_text())
        data, model = str(run.config.get("data.name")), str(run.config.get("model.name"))
        path = out_dir / f"totoro_vs_f1_{data}.png"
        correlation_plot(rows, path, correlation_title(data, model, run.metrics))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path("runs/renode"))
    parser.add_argument("--figures", type=Path, default=None,
                        help=f"also redraw the correlation scatters there (e.g. {FIGURES})")
    args = parser.parse_args()
    runs = load_local([args.root], paper="renode")
    print(markdown(table_runs(runs)))
    if args.figures is not None:
        for path in correlation_figures(runs, args.figures):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
