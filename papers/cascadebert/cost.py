"""Inference cost of an example: the paper's layer count and real FLOPs.

CascadeBERT counts transformer layers (the 2-layer model's exit costs 2, an escalated example
2 + 12; speed-up = 12 / mean layers). That count is fair only when the models share a width;
for models of different widths (MiniLM 384 -> MPNet 768) the FLOPs of the layers run are the
honest cost. One encoder layer on T tokens of width H with FFN width I does, in matrix
products (2 FLOPs per multiply-add; layer norms, softmax and biases ignored):

    Q, K, V, O projections 4 * 2TH^2,  scores QK^T and AV 2 * 2T^2H,  FFN 2 * 2THI.

The pooler and classifier of each exit are counted too (2H^2 + 2HC per exit): they are what an
early-exit model adds at every layer.
"""

from __future__ import annotations

from torch import Tensor


def layer_flops(tokens: Tensor | int, hidden: int, intermediate: int) -> Tensor | int:
    """FLOPs of one encoder layer on ``tokens`` tokens (a count, or one count per example)."""
    t = tokens
    return 8 * t * hidden * hidden + 4 * t * t * hidden + 4 * t * hidden * intermediate


def head_flops(hidden: int, num_labels: int) -> int:
    """FLOPs of one classifier: pooler dense (H x H) and linear (H x C) on the [CLS] vector."""
    return 2 * hidden * hidden + 2 * hidden * num_labels


def model_flops(tokens: Tensor | int, *, layers: int, hidden: int, intermediate: int,
                num_labels: int, exits: int = 1) -> Tensor | int:
    """FLOPs of ``layers`` encoder layers plus ``exits`` classifiers on ``tokens`` tokens."""
    return (layers * layer_flops(tokens, hidden, intermediate)
            + exits * head_flops(hidden, num_labels))
