"""Saliency of the information flow (Sec. 2.1, Eq. 1-4).

I_l = |sum_h A_{h,l} * dL/dA_{h,l}|: the attention of every head is multiplied by a ones tensor
w that requires a gradient, so dL/dw = A * dL/dA (element-wise), summed over heads, then the
absolute value. Model parameters stay frozen: only attention needs a gradient. I_l(i, j) is the
flow from token j to token i (j < i), the semantics of the paper's text (Eq. 1's indices are
transposed in print).

S_wp (Eq. 2): mean of I_l(p_k, j) over label positions p_k and j < p_k (text -> label words);
S_pq (Eq. 3): mean of I_l(q, p_k) (label words -> target); S_ww (Eq. 4): mean of I_l(i, j) over
the remaining pairs j < i (the diagonal excluded).

L is the cross-entropy of the label-word scores at q against the gold label (the paper's "task
loss"; the official code), or against the model's own prediction (``target="prediction"``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from papers.label_anchors.attention import Hook, hooked
from papers.label_anchors.prompting import Prompt
from papers.label_anchors.setting import Setting

FLOWS = ("wp", "pq", "ww")
TARGETS = ("gold", "prediction")


class SaliencyProbe(Hook):
    """Multiplies each layer's attention by ones w_l (requires_grad); dL/dw_l = A_l * dL/dA_l."""

    def __init__(self) -> None:
        self.ones: dict[int, Tensor] = {}

    def probs(self, layer: int, probs: Tensor) -> Tensor:
        ones = torch.ones_like(probs, requires_grad=True)
        self.ones[layer] = ones
        return probs * ones


def saliency(setting: Setting, prompt: Prompt, target: str = "gold") -> Tensor:
    """I_l for every layer: (layers, T, T) for one prompt (batch 1)."""
    probe = SaliencyProbe()
    with torch.enable_grad(), hooked(setting.model, probe):
        scores = setting.class_scores(setting.logits(prompt))
        label = prompt.query_label if target == "gold" else int(scores.argmax())
        if label is None:
            raise ValueError("saliency with target='gold' needs the query's label")
        loss = F.cross_entropy(scores[None], torch.tensor([label], device=scores.device))
        layers = sorted(probe.ones)
        grads = torch.autograd.grad(loss, [probe.ones[layer] for layer in layers])
    return torch.stack([g[0].sum(0).abs() for g in grads])


def flow_masks(prompt: Prompt) -> dict[str, Tensor]:
    """Boolean (T, T) index sets of S_wp, S_pq and S_ww (row i receives from column j)."""
    size = len(prompt.ids)
    below = torch.ones(size, size, dtype=torch.bool).tril(-1)
    wp = torch.zeros_like(below)
    pq = torch.zeros_like(below)
    for p in prompt.label_positions:
        wp[p, :p] = True
        pq[prompt.target, p] = True
    return {"wp": wp, "pq": pq, "ww": below & ~wp & ~pq}


def flow_scores(importance: Tensor, masks: dict[str, Tensor]) -> Tensor:
    """(layers, 3): S_wp, S_pq, S_ww per layer, the means of I_l over each index set."""
    return torch.stack([importance[:, masks[name]].mean(-1) for name in FLOWS], dim=-1)


def proportions(scores: Tensor) -> Tensor:
    """Each layer's three flows as shares of their sum (the paper's Fig. 3 normalisation)."""
    return scores / scores.sum(-1, keepdim=True)


def crossover_layer(scores: Tensor) -> int:
    """The first layer (0-based) from which S_pq stays above S_wp to the last layer; -1 if
    S_pq ends below S_wp."""
    above = (scores[:, 1] > scores[:, 0]).tolist()
    layer = len(above)
    while layer > 0 and above[layer - 1]:
        layer -= 1
    return layer if layer < len(above) else -1
