"""Anchor re-weighting (Sec. 3.1, Eq. 6-7): ICL as logistic regression over label anchors.

Each layer l, head h and demonstration i gets a learnable beta_0^{l,h,i} (initialised 0); in the
target row the attention to the label position p_i becomes exp(beta) * A(q, p_i), after the
softmax and without renormalising. Only beta is trained, on prompts made of the run's
demonstrations plus an extra training example as the query, with the cross-entropy of the
label-word scores against the gold label (Adam, lr 0.01, batch 1, 10 epochs in the paper).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from papers.label_anchors.attention import Hook, hooked
from papers.label_anchors.prompting import Prompt
from papers.label_anchors.setting import Setting


class AnchorReweighting(nn.Module, Hook):
    """beta (layers, heads, demonstrations); rescales the last query row at ``label_positions``
    (the demonstrations' p_i, prompt order)."""

    def __init__(self, num_layers: int, num_heads: int, label_positions: Sequence[int]) -> None:
        super().__init__()
        self.label_positions = list(label_positions)
        self.beta = nn.Parameter(torch.zeros(num_layers, num_heads, len(self.label_positions)))

    def probs(self, layer: int, probs: Tensor) -> Tensor:
        """probs (batch, heads, q_len, k_len): the last row times exp(beta) at the anchors."""
        scale = torch.ones(probs.shape[1], probs.shape[-1], dtype=probs.dtype,
                           device=probs.device)
        scale[:, self.label_positions] = self.beta[layer].exp().to(probs.dtype)
        last = probs[..., -1:, :] * scale[:, None, :]
        return torch.cat([probs[..., :-1, :], last], dim=-2)


def check_same_context(prompts: Sequence[Prompt]) -> list[int]:
    """The label positions every prompt shares (same demonstrations, so same anchors)."""
    positions = prompts[0].label_positions
    for prompt in prompts:
        if prompt.label_positions != positions or \
                prompt.ids[: prompt.context_length] != prompts[0].ids[: prompts[0].context_length]:
            raise ValueError("anchor re-weighting needs one demonstration context for all prompts")
    return list(positions)


def reweighting_loss(setting: Setting, module: AnchorReweighting, prompt: Prompt) -> Tensor:
    """Cross-entropy of the re-weighted label-word scores against the query's gold label."""
    with hooked(setting.model, module):
        scores = setting.class_scores(setting.logits(prompt))
    return F.cross_entropy(scores[None], torch.tensor([prompt.query_label], device=scores.device))
