"""Perplexity of a text under an oracle language model (watermark and ESFT quality checks).

Long texts use the sliding-window evaluation of the transformers perplexity guide: windows of
``max_length`` tokens advance by ``stride``; each token is scored exactly once, in the window
where it is new, with up to ``max_length - stride`` tokens of extra context. PPL = exp(total
NLL / scored tokens).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from common.text.tokenizers import encode


def _token_nll(model: PreTrainedModel, ids: torch.Tensor) -> torch.Tensor:
    """NLL of ids[1:] given their prefixes in one forward pass; shape (len(ids) - 1,)."""
    logits = model(ids.unsqueeze(0)).logits[0, :-1].float()
    return F.cross_entropy(logits, ids[1:], reduction="none")


@torch.no_grad()
def sliding_window_nll(
    model: PreTrainedModel,
    ids: Sequence[int] | torch.Tensor,
    *,
    max_length: int | None = None,
    stride: int | None = None,
    score_from: int = 1,
) -> tuple[float, int]:
    """(total NLL, number of scored tokens) of ``ids[score_from:]``, each token conditioned on
    the tokens before it inside its window. ``max_length`` defaults to the model's context;
    ``stride`` to ``max_length // 2``. A token with no context in its window (the first token;
    window starts when ``stride == max_length``) is not scored."""
    device = next(model.parameters()).device
    ids = torch.as_tensor(ids, dtype=torch.long, device=device)
    n = ids.numel()
    max_length = max_length or getattr(model.config, "max_position_embeddings", n)
    stride = stride or max(1, max_length // 2)
    if not 1 <= stride <= max_length or max_length < 2:
        raise ValueError("need 2 <= max_length and 1 <= stride <= max_length")
    score_from = max(score_from, 1)
    total, count, scored_until = 0.0, 0, score_from
    begin = 0
    while scored_until < n:
        end = min(begin + max_length, n)
        if end > scored_until:
            nll = _token_nll(model, ids[begin:end])
            new = nll[max(scored_until - begin - 1, 0) :]
            total += float(new.sum())
            count += new.numel()
            scored_until = end
        if end == n:
            break
        begin += stride
    return total, count


def perplexity(
    model: PreTrainedModel,
    tokenizer,
    text: str,
    *,
    max_length: int | None = None,
    stride: int | None = None,
) -> float:
    """Sliding-window perplexity of ``text`` (encoded with the tokenizer's BOS policy; with BOS
    every text token is scored, without it the first token is context only)."""
    total, count = sliding_window_nll(
        model, encode(tokenizer, text), max_length=max_length, stride=stride
    )
    if count == 0:
        raise ValueError("text too short: no token to score")
    return math.exp(total / count)


def conditional_perplexity(
    model: PreTrainedModel,
    prompt_ids: Sequence[int],
    continuation_ids: Sequence[int],
    *,
    max_length: int | None = None,
    stride: int | None = None,
) -> float:
    """Perplexity of ``continuation_ids`` given ``prompt_ids`` (the usual quality measure of a
    generated continuation; both in the oracle's vocabulary)."""
    if not continuation_ids:
        raise ValueError("empty continuation")
    ids = [*prompt_ids, *continuation_ids]
    total, count = sliding_window_nll(
        model, ids, max_length=max_length, stride=stride, score_from=len(prompt_ids)
    )
    return math.exp(total / count)
