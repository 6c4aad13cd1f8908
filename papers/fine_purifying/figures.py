"""ACC and ASR against the reset fraction rho and the clean-set size (the paper's analyses)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from common.report import figure


def curves(series: Mapping[str, Mapping[float, Mapping[str, float]]], xlabel: str,
           path: Path) -> Path:
    """One solid (ACC) and one dashed (ASR) line per defence."""
    with figure(path, (5.2, 3.8)) as (_, ax):
        for name, points in series.items():
            xs = sorted(points)
            line, = ax.plot(xs, [points[x]["acc"] for x in xs], marker="o",
                            label=f"{name.split(' (')[0]} ACC")
            ax.plot(xs, [points[x]["asr"] for x in xs], marker="x", ls="--",
                    color=line.get_color(), label=f"{name.split(' (')[0]} ASR")
        ax.set(xlabel=xlabel, ylabel="ACC / ASR", ylim=(-0.05, 1.05))
        ax.legend(fontsize=6)
    return path
