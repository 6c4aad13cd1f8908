"""Shallow-layer isolation (Sec. 2.2, Hypothesis 1): block the flow into label words.

In the chosen layers, the scores A_l(p_k, j) for every label position p_k and every earlier j
are set to -inf before the softmax, so label words cannot aggregate their demonstration's
information there (each still attends to itself). The control blocks as many random non-label
positions instead. Isolating the first k layers should hurt loyalty far more than the last k.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from papers.label_anchors.attention import Hook


class Isolation(Hook):
    """Blocks attention from each of ``rows`` to every earlier position in ``layers``."""

    def __init__(self, rows: Sequence[int], layers: Iterable[int]) -> None:
        self.rows = list(rows)
        self.layers = set(layers)

    def mask(self, size: int, device: torch.device) -> Tensor:
        """Boolean (size, size): True where the score is replaced by -inf."""
        blocked = torch.zeros(size, size, dtype=torch.bool, device=device)
        for row in self.rows:
            blocked[row, :row] = True
        return blocked

    def scores(self, layer: int, scores: Tensor) -> Tensor:
        if layer not in self.layers:
            return scores
        if scores.shape[-2] != scores.shape[-1]:
            raise ValueError("isolation needs the whole prompt in one pass (no KV cache)")
        return scores.masked_fill(self.mask(scores.shape[-1], scores.device), float("-inf"))


def scaled_k(k: int, num_layers: int, reference_depth: int | None) -> int:
    """k layers of the paper's ``reference_depth``-layer model (GPT2-XL: 48) on a model with
    ``num_layers`` layers: round(k * num_layers / reference_depth), at least 1."""
    if reference_depth is None:
        return min(k, num_layers)
    return min(num_layers, max(1, round(k * num_layers / reference_depth)))


def layer_block(where: str, k: int, num_layers: int) -> list[int]:
    """The first (``where="first"``) or last ``k`` layer indices."""
    if where == "first":
        return list(range(k))
    if where == "last":
        return list(range(num_layers - k, num_layers))
    raise ValueError(f"where must be 'first' or 'last', got {where!r}")


def random_rows(label_positions: Sequence[int], target: int, generator: torch.Generator
                ) -> list[int]:
    """As many positions as there are label words, drawn without replacement from 1..q-1
    minus the label positions (the control of Sec. 2.2)."""
    taken = set(label_positions)
    pool = torch.tensor([t for t in range(1, target) if t not in taken])
    if len(pool) < len(label_positions):
        raise ValueError("the prompt has too few non-label positions for the random control")
    pick = torch.randperm(len(pool), generator=generator)[: len(label_positions)]
    return sorted(pool[pick].tolist())
