"""Tables (mean ± std over seeds) and combined figures of finished MADGap runs.

    .venv/bin/python -m papers.madgap.report runs/madgap --figures papers/madgap

Reads every ``results.json`` under the given folders, groups the runs by (experiment, model,
data), prints one markdown table per experiment, and writes the README's PNGs.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scipy.stats import pearsonr

from common import report
from papers.madgap import plots

Run = dict[str, Any]
Key = tuple[str, str, str]


def load_runs(folders: Sequence[Path]) -> dict[Key, list[Run]]:
    """Finished runs grouped by (experiment name, model, data)."""
    groups: dict[Key, list[Run]] = defaultdict(list)
    for folder in folders:
        for path in sorted(folder.rglob("results.json")):
            run = json.loads(path.read_text())
            config = run.get("config", {})
            if run.get("status") != "finished" or config.get("paper") != "madgap":
                continue
            key = (config["name"], config["model"]["name"], config["data"]["name"])
            groups[key].append(run)
    return groups


def mean_std(values: Sequence[float], scale: float = 1.0) -> str:
    """``mean ± std`` (sample std) of ``scale * values`` as a table cell."""
    if not values:
        return "-"
    mean, std = report.mean_std([scale * v for v in values])
    return f"{mean:.2f}" if len(values) == 1 else f"{mean:.2f} ± {std:.2f}"


def _column(runs: list[Run], metric: str) -> list[float]:
    return [float(r["metrics"][metric]) for r in runs if metric in r["metrics"]]


def table(groups: dict[Key, list[Run]], name: str, columns: dict[str, tuple[str, float]]) -> str:
    """Markdown rows ``model | data | seeds | <columns>`` for experiment ``name``."""
    lines = [
        "| model | data | seeds | " + " | ".join(columns) + " |",
        "|" + " --- |" * (3 + len(columns)),
    ]
    for (experiment, model, data), runs in sorted(groups.items()):
        if experiment != name:
            continue
        cells = [mean_std(_column(runs, m), scale) for m, scale in columns.values()]
        lines.append(f"| {model} | {data} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def depth_columns(runs: list[Run], suffix: str) -> dict[str, tuple[str, float]]:
    depths = sorted({int(k.split("/")[0][1:]) for r in runs for k in r["metrics"] if k[0] == "L"})
    return {f"L={d}": (f"L{d}/{suffix}", 100.0) for d in depths}


def smoothing_figure(groups: dict[Key, list[Run]], out: Path) -> list[Path]:
    """MAD of each layer, per model: one PNG per (model, data), seed 0 runs (or the first)."""
    written = []
    for (experiment, model, data), runs in sorted(groups.items()):
        if experiment != "smoothing":
            continue
        metrics = runs[0]["metrics"]
        curves: dict[str, list[float]] = defaultdict(list)
        for depth in range(1, 33):
            for layer in range(1, depth + 1):
                key = f"L{depth}/layer{layer}/mad_global"
                if key in metrics:
                    curves[f"{depth} layers"].append(metrics[key])
        path = out / f"smoothing_{model}_{data}.png"
        written.append(plots.mad_per_layer(curves, f"MAD per layer: {model} on {data}", path))
    return written


def madgap_acc_figure(groups: dict[Key, list[Run]], out: Path) -> tuple[Path | None, str]:
    """All (depth, seed) points of every (model, data) in one scatter, with pooled Pearson r."""
    points: dict[str, tuple[list[float], list[float]]] = {}
    lines = ["| model | data | points | pooled Pearson r (p) |", "| --- | --- | --- | --- |"]
    for (experiment, model, data), runs in sorted(groups.items()):
        if experiment != "madgap_acc":
            continue
        gaps, accs = [], []
        for run in runs:
            for key, value in run["metrics"].items():
                if key.endswith("/madgap") and key.count("/") == 1:
                    gaps.append(value)
                    accs.append(run["metrics"][key.replace("madgap", "test/acc")])
        points[f"{model} / {data}"] = (gaps, accs)
        if len(gaps) >= 3:
            result = pearsonr(gaps, accs)
            lines.append(
                f"| {model} | {data} | {len(gaps)} | {result.statistic:.3f} ({result.pvalue:.1e}) |"
            )
    if not points:
        return None, ""
    path = plots.gap_vs_accuracy(points, "MADGap vs accuracy", out / "madgap_acc.png")
    return path, "\n".join(lines)


def topology_figure(groups: dict[Key, list[Run]], out: Path) -> list[Path]:
    """Mean accuracy and MADGap over seeds against the edit rate, per (model, data)."""
    written = []
    for (experiment, model, data), runs in sorted(groups.items()):
        if experiment != "topology":
            continue
        curves = {}
        edits = runs[0]["config"]["task"]["edits"]
        rates = runs[0]["config"]["task"]["rates"]
        for edit in edits:
            accs = [statistics.mean(_column(runs, f"{edit}/rate{r:g}/test/acc")) for r in rates]
            gaps = [statistics.mean(_column(runs, f"{edit}/rate{r:g}/madgap")) for r in rates]
            curves[edit] = (list(rates), accs, gaps)
        path = out / f"topology_{model}_{data}.png"
        written.append(plots.topology_curves(curves, f"Topology edits: {model} on {data}", path))
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--figures", type=Path, help="write the combined PNGs here")
    args = parser.parse_args(argv)
    groups = load_runs(args.folders)
    acc_runs = [r for (e, _, _), runs in groups.items() if e == "madgap_acc" for r in runs]
    sections = {
        "madgap_acc (test acc x100 per depth)": table(
            groups, "madgap_acc", depth_columns(acc_runs, "test/acc")
        ),
        "madgap_acc (per-run Pearson r of MADGap and accuracy over depths)": table(
            groups, "madgap_acc", {"Pearson r": ("pearson_r", 1.0)}
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
    for title, text in sections.items():
        print(f"\n### {title}\n\n{text}")
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        smoothing_figure(groups, args.figures)
        topology_figure(groups, args.figures)
        _, pooled = madgap_acc_figure(groups, args.figures)
        print(f"\n### madgap_acc pooled over depths and seeds\n\n{pooled}")


if __name__ == "__main__":
    main()
