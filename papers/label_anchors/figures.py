"""Per-layer plots of the analyses (the paper's Fig. 3, 5 and 6 at our scale)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from common.report import figure

FLOW_NAMES = {"wp": "S_wp (text -> label)", "pq": "S_pq (label -> target)",
              "ww": "S_ww (other)"}


def flows(shares: np.ndarray, title: str, path: Path) -> Path:
    """The three flows' shares per layer (rows of ``shares``: S_wp, S_pq, S_ww)."""
    layers = np.arange(len(shares))
    with figure(path, (5, 3.5)) as (_, ax):
        for column, label in enumerate(FLOW_NAMES.values()):
            ax.plot(layers, shares[:, column], label=label)
        ax.set(xlabel="layer", ylabel="share of the three flows", title=title)
        ax.legend(fontsize=7)
    return path


def deep_layers(aucs: np.ndarray, shares: np.ndarray, title: str, path: Path) -> Path:
    """AUCROC_l and R_l per layer (R_l dips below 0 where early layers' AUC is under 0.5)."""
    layers = np.arange(len(aucs))
    with figure(path, (5, 3.5)) as (_, ax):
        ax.plot(layers, aucs, label="AUCROC_l")
        ax.plot(layers, shares, label="R_l")
        ax.axhline(0.5, color="grey", lw=0.5, ls=":")
        ax.set(xlabel="layer", ylim=(min(0.0, float(np.min(shares))) - 0.05, 1.05), title=title)
        ax.legend(fontsize=7)
    return path


def isolation(loyalty: Mapping[str, Sequence[float]], ks: Sequence[int], title: str,
              path: Path) -> Path:
    """Loyalty against the number of isolated layers, one line per (control, where, metric)."""
    with figure(path, (5.5, 3.8)) as (_, ax):
        for name, values in loyalty.items():
            ax.plot(ks, values, marker="o", ls="--" if "word" in name else "-", label=name)
        ax.set(xlabel="isolated layers k", ylabel="loyalty", ylim=(0, 1.05), title=title)
        ax.legend(fontsize=6)
    return path
