"""Reading a prediction off the last position, and the loyalty metrics of Sec. 2.2 / 3.2.

The model's label is the argmax over the label words' logits at the target position q. A label
word is scored by its first token (the paper) or, with ``mode="mean"``, by the mean of the
logits of all its tokens at q (an option users asked for; a bag-of-tokens score, not the
word's sequence probability).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from common.text.prompts import ICLTemplate, label_token_ids

SCORING = ("first", "mean")


def label_word_tokens(tokenizer: PreTrainedTokenizerBase, template: ICLTemplate,
                      mode: str = "first") -> list[list[int]]:
    """Token ids that score each class: its first token (``first``) or all its tokens in
    context (``mean``)."""
    if mode not in SCORING:
        raise ValueError(f"label scoring {mode!r} is not one of {SCORING}")
    firsts = label_token_ids(tokenizer, template)
    if mode == "first":
        return [[t] for t in firsts]
    base = tokenizer(template.query_suffix, add_special_tokens=False)["input_ids"]
    return [tokenizer(template.query_suffix + template.label_text(c),
                      add_special_tokens=False)["input_ids"][len(base):]
            for c in range(len(template.label_words))]


def label_logits(logits: Tensor, tokens: Sequence[Sequence[int]]) -> Tensor:
    """Class scores (..., C) from next-token ``logits`` (..., V): the mean logit of each class's
    tokens (one token each: that token's logit)."""
    return torch.stack([logits[..., list(ids)].mean(-1) for ids in tokens], dim=-1)


def label_loyalty(predicted: Tensor, reference: Tensor) -> float:
    """Share of examples whose label (argmax over label words) equals the reference run's."""
    return float((predicted == reference).float().mean())


def word_loyalty(logits: Tensor, reference: Tensor, k: int = 5) -> float:
    """Mean Jaccard similarity of the top-``k`` vocabulary tokens at q, run vs reference
    (rows are examples)."""
    ours, theirs = logits.topk(k, dim=-1).indices, reference.topk(k, dim=-1).indices
    scores = []
    for a, b in zip(ours.tolist(), theirs.tolist(), strict=True):
        a, b = set(a), set(b)
        scores.append(len(a & b) / len(a | b))
    return float(sum(scores) / len(scores))
