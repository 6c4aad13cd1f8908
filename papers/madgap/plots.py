"""Figures of the MADGap experiments (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def mad_per_layer(curves: Mapping[str, Sequence[float]], title: str, path: Path) -> Path:
    """MAD^global of layer l, one line per model depth (or per model)."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
    ax.set(xlabel="layer", ylabel="MAD (global)", title=title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def gap_vs_accuracy(
    points: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str, path: Path
) -> Path:
    """MADGap (x) against test accuracy (y), one colour per group of points."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for label, (gaps, accs) in points.items():
        ax.scatter(gaps, accs, label=label, s=18)
    ax.set(xlabel="MADGap (last layer)", ylabel="test accuracy", title=title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def topology_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    title: str,
    path: Path,
) -> Path:
    """Accuracy and MADGap against the edit rate, one line per edit (rates, accs, gaps)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.4))
    for label, (rates, accs, gaps) in curves.items():
        left.plot(rates, accs, marker="o", label=label)
        right.plot(rates, gaps, marker="o", label=label)
    left.set(xlabel="edit rate", ylabel="test accuracy")
    right.set(xlabel="edit rate", ylabel="MADGap")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
