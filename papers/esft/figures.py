"""The routing heat map: token selection ratio per expert, per domain or task, per MoE layer
(the paper's Fig. 2: a task's routing concentrates on few experts, and different tasks use
different experts)."""

from __future__ import annotations

from pathlib import Path

import torch

from common.report import figure


def routing_heatmap(profiles: dict[str, dict[int, torch.Tensor]], path: Path) -> Path:
    """One panel per MoE layer; rows are ``profiles`` (domains, tasks), columns experts."""
    layers = sorted(next(iter(profiles.values())))
    names = list(profiles)
    size = (3.2 * len(layers), 0.45 * len(names) + 1.4)
    with figure(path, size, ncols=len(layers)) as (fig, axes):
        axes = axes if len(layers) > 1 else [axes]
        for i, (ax, layer) in enumerate(zip(axes, layers, strict=True)):
            grid = torch.stack([profiles[n][layer] for n in names]).numpy()
            image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0)
            ax.set(title=f"layer {layer}", xlabel="routed expert")
            ax.set_yticks(range(len(names)), names if i == 0 else [""] * len(names), fontsize=7)
            fig.colorbar(image, ax=ax, fraction=0.05)
        fig.suptitle("token selection ratio (uniform = 1 / E)", fontsize=9)
    return path
