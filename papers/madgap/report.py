"""Tables (mean ± sample std over seeds) and figures of finished MADGap runs.

    .venv/bin/python -m papers.madgap.report [runs/madgap ...] [--figures papers/madgap/figures]

Reads the runs with :func:`common.report.load_local`, groups them by (experiment, model, data),
prints one markdown table per experiment and, with ``--figures``, writes the README's PNGs. The
plotting functions also draw each run's own PNGs (called from :mod:`papers.madgap.experiment`).
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from scipy.stats import pearsonr

from common.metrics import mean_std
from common.report import Run, figure, load_local

Key = tuple[str, str, str]
"""(experiment name, model, data)."""


def mad_per_layer(curves: Mapping[str, Sequence[float]], title: str, path: Path) -> Path:
    """MAD^global of layer l (Eq. 1-4), one line per model depth."""
    with figure(path, size=(5.0, 3.6)) as (_, ax):
        for label, values in curves.items():
            ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set(xlabel="layer", ylabel="MAD (global)", title=title)
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    return path


def gap_vs_accuracy(
    points: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str, path: Path
) -> Path:
    """MADGap (Eq. 5, x) against test accuracy (y), one colour per group of points."""
    with figure(path, size=(5.0, 3.6)) as (_, ax):
        for label, (gaps, accs) in points.items():
            ax.scatter(gaps, accs, label=label, s=18)
        ax.set(xlabel="MADGap (last layer)", ylabel="test accuracy", title=title)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return path


def topology_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    title: str,
    path: Path,
) -> Path:
    """Test accuracy (solid, left axis) and MADGap (dashed, right axis) against the edit rate,
    one colour per edit; each curve is (rates, accs, gaps)."""
    with figure(path, size=(6.0, 4.2)) as (_, acc_ax):
        gap_ax = acc_ax.twinx()
        for i, (label, (rates, accs, gaps)) in enumerate(curves.items()):
            colour = f"C{i}"
            acc_ax.plot(rates, accs, marker="o", color=colour, label=f"{label}: accuracy")
            gap_ax.plot(rates, gaps, marker="s", ls="--", color=colour, label=f"{label}: MADGap")
        acc_ax.set(xlabel="edit rate", ylabel="test accuracy (solid)", title=title)
        gap_ax.set(ylabel="MADGap (dashed)")
        acc_ax.grid(alpha=0.3)
        handles = acc_ax.get_legend_handles_labels()[0] + gap_ax.get_legend_handles_labels()[0]
        gap_ax.legend(
            handles=handles, fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.18)
        )
    return path


def group_runs(runs: Sequence[Run]) -> dict[Key, list[Run]]:
    """Runs grouped by (experiment name, model, data)."""
    groups: dict[Key, list[Run]] = defaultdict(list)
    for run in runs:
        groups[(run.name, str(run.config["model.name"]), str(run.config["data.name"]))].append(run)
    return dict(groups)


def cell(values: Sequence[float], scale: float = 1.0) -> str:
    """``mean ± std`` (sample std) of ``scale * values`` as a table cell; the mean alone for one
    value, ``-`` for none."""
    if not values:
        return "-"
    mean, std = mean_std([scale * v for v in values])
    return f"{mean:.2f}" if len(values) == 1 else f"{mean:.2f} ± {std:.2f}"


def column(runs: Sequence[Run], metric: str) -> list[float]:
    """``metric`` of every run that has it."""
    return [float(r.metrics[metric]) for r in runs if metric in r.metrics]


def table(groups: dict[Key, list[Run]], name: str, columns: dict[str, tuple[str, float]]) -> str:
    """Markdown rows ``model | data | seeds | <columns>`` for experiment ``name``; ``columns``
    maps a header to (metric, scale)."""
    lines = [
        "| model | data | seeds | " + " | ".join(columns) + " |",
        "|" + " --- |" * (3 + len(columns)),
    ]
    for (experiment, model, data), runs in sorted(groups.items()):
        if experiment != name:
            continue
        cells = [cell(column(runs, m), scale) for m, scale in columns.values()]
        lines.append(f"| {model} | {data} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def depth_columns(runs: Sequence[Run], suffix: str) -> dict[str, tuple[str, float]]:
    """One column ``L=d`` (metric ``L<d>/<suffix>``, x100) per depth found in the runs."""
    depths = sorted({int(k.split("/")[0][1:]) for r in runs for k in r.metrics if k[0] == "L"})
    return {f"L={d}": (f"L{d}/{suffix}", 100.0) for d in depths}


def smoothing_figures(groups: dict[Key, list[Run]], out: Path) -> list[Path]:
    """MAD of each layer per depth: one PNG per (model, data), from the group's first run."""
    written = []
    for (experiment, model, data), runs in sorted(groups.items()):
        if experiment != "smoothing":
            continue
        metrics = runs[0].metrics
        curves: dict[str, list[float]] = defaultdict(list)
        for depth in range(1, 33):
            for layer in range(1, depth + 1):
                key = f"L{depth}/layer{layer}/mad_global"
                if key in metrics:
                    curves[f"{depth} layers"].append(metrics[key])
        path = out / f"smoothing_{model}_{data}.png"
        written.append(mad_per_layer(curves, f"MAD per layer: {model} on {data}", path))
    return written


def madgap_acc_figure(groups: dict[Key, list[Run]], out: Path) -> tuple[Path | None, str]:
    """All (depth, seed) points of every (model, data) in one scatter, and a table of the
    pooled Pearson r per (model, data), over all depths and over depths >= 2."""
    points: dict[str, tuple[list[float], list[float]]] = {}
    lines = ["| model | data | points | pooled Pearson r (p) | depths >= 2: points | r (p) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for (experiment, model, data), runs in sorted(groups.items()):
        if experiment != "madgap_acc":
            continue
        gaps, accs, deep = [], [], []
        for run in runs:
            for key, value in run.metrics.items():
                if key.endswith("/madgap") and key.count("/") == 1:
                    deep.append(key != "L1/madgap")
                    gaps.append(value)
                    accs.append(run.metrics[key.replace("madgap", "test/acc")])
        points[f"{model} / {data}"] = (gaps, accs)
        if len(gaps) >= 3:
            cells = []
            for keep in ([True] * len(gaps), deep):
                x = [g for g, k in zip(gaps, keep, strict=True) if k]
                y = [a for a, k in zip(accs, keep, strict=True) if k]
                result = pearsonr(x, y) if len(x) >= 3 else None
                cells.append(f"{len(x)} | " + (f"{result.statistic:.3f} ({result.pvalue:.1e})"
                                              if result else "-"))
            lines.append(f"| {model} | {data} | {' | '.join(cells)} |")
    if not points:
        return None, ""
    path = gap_vs_accuracy(points, "MADGap vs accuracy", out / "madgap_acc.png")
    return path, "\n".join(lines)


def topology_figures(groups: dict[Key, list[Run]], out: Path) -> list[Path]:
    """Mean accuracy and MADGap over seeds against the edit rate, one PNG per (model, data)."""
    written = []
    for (experiment, model, data), runs in sorted(groups.items()):
        if experiment != "topology":
            continue
        task = runs[0].nested["task"]
        curves = {}
        for edit in task["edits"]:
            rates = task["rates"]
            accs = [statistics.mean(column(runs, f"{edit}/rate{r:g}/test/acc")) for r in rates]
            gaps = [statistics.mean(column(runs, f"{edit}/rate{r:g}/madgap")) for r in rates]
            curves[edit] = (list(rates), accs, gaps)
        path = out / f"topology_{model}_{data}.png"
        written.append(topology_curves(curves, f"Topology edits: {model} on {data}", path))
    return written


def sections(groups: dict[Key, list[Run]]) -> dict[str, str]:
    """The printed tables, by title."""
    acc_runs = [r for (e, _, _), runs in groups.items() if e == "madgap_acc" for r in runs]
    return {
        "madgap_acc (test acc x100 per depth)": table(
            groups, "madgap_acc", depth_columns(acc_runs, "test/acc")
        ),
        "madgap_acc (per-run Pearson r of MADGap and accuracy over depths)": table(
            groups, "madgap_acc",
            {"Pearson r": ("pearson_r", 1.0), "r, depths >= 2": ("pearson_r_from2", 1.0)}
        ),
        "madreg (test acc x100)": table(
            groups,
            "madreg",
            {
                "baseline": ("baseline/test/acc", 100.0),
                "MADReg": ("madreg/test/acc", 100.0),
                "MADGap base": ("baseline/madgap", 1.0),
                "MADGap MADReg": ("madreg/madgap", 1.0),
            },
        ),
        "adagraph (test acc x100)": table(
            groups,
            "adagraph",
            {
                "before": ("test/acc_before", 100.0),
                "after": ("test/acc_after", 100.0),
                "MADGap before": ("madgap_before", 1.0),
                "MADGap after": ("madgap_after", 1.0),
            },
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[Path("runs/madgap")])
    parser.add_argument("--figures", type=Path, help="write the combined PNGs here")
    args = parser.parse_args(argv)
    groups = group_runs(load_local(args.folders, paper="madgap"))
    for title, text in sections(groups).items():
        print(f"\n### {title}\n\n{text}")
    if args.figures:
        smoothing_figures(groups, args.figures)
        topology_figures(groups, args.figures)
        _, pooled = madgap_acc_figure(groups, args.figures)
        print(f"\n### madgap_acc pooled over depths and seeds\n\n{pooled}")


if __name__ == "__main__":
    main()
