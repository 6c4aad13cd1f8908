"""The accuracy / speed-up trade-off plot (the paper's Fig. 1 and 4 at our scale)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from common.report import figure

if TYPE_CHECKING:
    from papers.cascadebert.evaluation import Point

LABELS = {"cascade": "cascade (DAR)", "cascade_no_dar": "cascade, no DAR",
          "deebert": "DeeBERT", "pabee": "PABEE"}


def tradeoff(curves: Mapping[str, Sequence[Point]], singles: Sequence[Point], title: str,
             path: Path) -> Path:
    """Accuracy (%) against the layer-count speed-up: one line per method (its points sorted
    by speed-up), one marker per model alone."""
    with figure(path, (5.5, 4)) as (_, ax):
        for method, points in curves.items():
            ordered = sorted(points, key=lambda p: p.speedup_layers)
            ax.plot([p.speedup_layers for p in ordered],
                    [100 * p.scores["acc"] for p in ordered], marker="o", ms=3,
                    label=LABELS.get(method, method))
        for p in singles:
            ax.scatter([p.speedup_layers], [100 * p.scores["acc"]], marker="*", s=60,
                       label=f"{p.setting} alone", zorder=3)
        ax.set(xlabel="speed-up (layers, vs the large model)", ylabel="accuracy (%)",
               title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return path
