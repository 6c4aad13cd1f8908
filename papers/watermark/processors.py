"""Embedding at generation time: ``transformers.LogitsProcessor``s for codable watermarks
(Balance- and Vanilla-Marking), Kirchenbauer et al.'s zero-bit KGW, and the paper's
generation settings (subtractive repetition penalty, EOS suppression)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from transformers import LogitsProcessor

from papers.watermark.code import Code
from papers.watermark.kgw import green_mask
from papers.watermark.partitions import (
    balance_favoured,
    context_seed,
    partition_index,
    permutation_seed,
    vanilla_favoured,
)
from papers.watermark.proxy import Proxy


class CodableWatermark(LogitsProcessor):
    """Adds -delta to the generator's top-k tokens outside the favoured set of (context, current
    message segment) (Sec. 3.3). Rows are ``prompt_width`` prompt tokens (left padded) then the
    continuation; the first ``code.prefix_len`` continuation tokens are left alone, token
    ``prefix_len + i`` carries segment ``i // encode_len`` (cycling if the text runs longer).
    ``messages[b]`` are prompt b's segments; its rows are b * rows_per_prompt, ... (the beams of
    ``generate``'s beam search)."""

    def __init__(self, code: Code, messages: Sequence[Sequence[int]], prompt_width: int,
                 proxy: Proxy | None = None, rows_per_prompt: int = 1) -> None:
        if code.method == "balance" and proxy is None:
            raise ValueError("Balance-Marking needs a proxy LM")
        if len({len(m) for m in messages}) != 1:
            raise ValueError("every prompt needs the same number of message segments")
        self.code = code
        self.messages = torch.tensor(messages, dtype=torch.long).repeat_interleave(
            rows_per_prompt, dim=0)
        self.prompt_width, self.proxy = prompt_width, proxy if code.method == "balance" else None

    def _to_code_vocab(self, ids: Tensor) -> Tensor:
        return self.proxy.to_proxy(ids) if self.proxy is not None else ids

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        code = self.code
        generated = input_ids[:, self.prompt_width:]
        t = generated.shape[1]
        if t < code.prefix_len or code.delta == 0:
            return scores
        segment = ((t - code.prefix_len) // code.encode_len) % self.messages.shape[1]
        if self.messages.shape[0] != len(input_ids):
            raise ValueError(f"{len(input_ids)} rows but messages for {self.messages.shape[0]}")
        self.messages = self.messages.to(input_ids.device)
        seeds = context_seed(self._to_code_vocab(generated[:, -1]), code.key)
        index = partition_index(seeds, self.messages[:, segment], code.bits, code.partitions)
        perm_seeds = permutation_seed(seeds, index, code.partitions)
        top = scores.topk(min(code.top_k, scores.shape[-1]), dim=-1).indices
        candidates = self._to_code_vocab(top)
        if self.proxy is not None:
            favoured = balance_favoured(self.proxy.step_probs(generated, scores), perm_seeds)
            favoured = favoured.gather(-1, candidates)
        else:
            favoured = vanilla_favoured(perm_seeds.unsqueeze(-1), candidates, scores.shape[-1])
        bias = torch.where(favoured, 0.0, -code.delta).to(scores.dtype)
        return scores.scatter_add(-1, top, bias)


class KGWWatermark(LogitsProcessor):
    """Kirchenbauer et al. (ICML 2023), zero-bit: +delta on the green list of the previous
    token (a fraction ``gamma`` of the vocabulary, :func:`papers.watermark.kgw.green_mask`)."""

    def __init__(self, delta: float, gamma: float, key: int) -> None:
        self.delta, self.gamma, self.key = delta, gamma, key

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        vocab = torch.arange(scores.shape[-1], device=scores.device)
        green = green_mask(input_ids[:, -1:], vocab, self.gamma, self.key)
        return scores + green.to(scores.dtype) * self.delta


class SubtractiveRepetitionPenalty(LogitsProcessor):
    """The paper's generation setting: ``penalty`` is subtracted from the score of every token
    already in the sequence (prompt included, as transformers' multiplicative version does)."""

    def __init__(self, penalty: float) -> None:
        self.penalty = penalty

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if self.penalty == 0:
            return scores
        seen = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, input_ids, True)
        return scores - seen.to(scores.dtype) * self.penalty


class SuppressTokens(LogitsProcessor):
    """-inf on ``token_ids`` (EOS: every continuation has the full length). Runs after the
    watermark, which must see the generator's own distribution."""

    def __init__(self, token_ids: Sequence[int]) -> None:
        self.token_ids = [int(t) for t in token_ids if t is not None]

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if not self.token_ids:
            return scores
        scores = scores.clone()
        scores[:, self.token_ids] = -float("inf")
        return scores
