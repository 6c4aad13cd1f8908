"""The paper's trade-off and robustness plots (Fig. 3-5 of Wang et al., at our scale)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from common.report import figure


def tradeoff(metrics: Mapping[str, float], methods: Sequence[str], deltas: Sequence[float],
             path: Path) -> Path:
    """Success rate against oracle PPL, one curve per method over delta (the plain
    generations' PPL as a vertical line): up and to the left is better."""
    with figure(path, (5, 3.8)) as (_, ax):
        for method in methods:
            points = [(metrics[f"{method}/delta{d:g}/ppl"], metrics[f"{method}/delta{d:g}/success"],
                       d) for d in deltas
                      if f"{method}/delta{d:g}/ppl" in metrics
                      and f"{method}/delta{d:g}/success" in metrics]
            if not points:
                continue
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                    label=f"{method}-marking")
            for ppl, success, d in points:
                ax.annotate(f"δ={d:g}", (ppl, success), fontsize=6, xytext=(3, -8),
                            textcoords="offset points")
        if "plain/ppl" in metrics:
            ax.axvline(metrics["plain/ppl"], color="grey", ls=":", label="no watermark")
        ax.set(xlabel="oracle perplexity", ylabel="message success rate", ylim=(-0.05, 1.05))
        ax.legend(fontsize=7)
    return path


def robustness(metrics: Mapping[str, float], methods: Sequence[str], attacks: Any,
               path: Path) -> Path:
    """Success rate against attack strength: copy-paste (human share) and substitution."""
    with figure(path, (5, 3.8)) as (_, ax):
        for method in methods:
            for kind, ratios, style in (("copy_paste", attacks.copy_paste, "-"),
                                        ("substitution", attacks.substitution, "--")):
                keys = [(r, f"robust/{method}/{kind}{r:g}/success") for r in ratios]
                keys = [(r, k) for r, k in keys if k in metrics]
                if keys:
                    ax.plot([r for r, _ in keys], [metrics[k] for _, k in keys], marker="o",
                            ls=style, label=f"{method}, {kind.replace('_', '-')}")
        ax.set(xlabel="attack ratio", ylabel="message success rate", ylim=(-0.05, 1.05))
        ax.legend(fontsize=7)
    return path
