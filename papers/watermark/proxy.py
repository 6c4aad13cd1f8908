"""Balance-Marking's proxy LM (Sec. 3.3): the public model whose distribution splits the
vocabulary into two halves of equal probability, and the generator -> proxy vocabulary map."""

from __future__ import annotations

import torch
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

CONTEXTS = ("window", "full")


def token_map(source: PreTrainedTokenizerBase, target: PreTrainedTokenizerBase,
              size: int | None = None) -> Tensor:
    """source id -> target id of the same token string, -1 where the target has no such token
    (the official code maps generator ids to proxy ids the same way; OPT -> GPT-2 is total)."""
    vocab = source.get_vocab()
    out = torch.full((max(size or 0, max(vocab.values()) + 1),), -1, dtype=torch.long)
    target_vocab = target.get_vocab()
    for token, i in vocab.items():
        out[i] = target_vocab.get(token, -1)
    return out


class Proxy:
    """p(. | context) in the proxy's vocabulary. ``context="window"`` (the paper): the proxy reads
    only the last ``prefix_len`` tokens, so a detector recomputes p from the text alone.
    ``"full"``: the proxy is the generator and p is the generator's own next-token distribution
    (no extra forward pass); its detector needs the same full context (prompt included)."""

    def __init__(self, model: PreTrainedModel, vocab_map: Tensor | None, prefix_len: int,
                 context: str = "window", fallback_id: int = 0) -> None:
        if context not in CONTEXTS:
            raise ValueError(f"proxy context {context!r}: choose one of {CONTEXTS}")
        if context == "full" and vocab_map is not None:
            raise ValueError("proxy context 'full' reuses the generator: no vocabulary map")
        self.model, self.vocab_map = model, vocab_map
        self.prefix_len, self.context, self.fallback_id = prefix_len, context, fallback_id
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])

    def to_proxy(self, ids: Tensor) -> Tensor:
        """Generator ids -> proxy ids (unknown tokens read as ``fallback_id``)."""
        if self.vocab_map is None:
            return ids
        mapped = self.vocab_map.to(ids.device)[ids.clamp_max(len(self.vocab_map) - 1)]
        return torch.where((mapped < 0) | (ids >= len(self.vocab_map)), self.fallback_id, mapped)

    @torch.inference_mode()
    def step_probs(self, generated: Tensor, scores: Tensor) -> Tensor:
        """p for the next token of each row: generated (N, t) generator ids, t >= prefix_len."""
        if self.context == "full":
            return scores.float().softmax(-1)
        ids = self.to_proxy(generated[:, -self.prefix_len:])
        return self._last(ids)

    @torch.inference_mode()
    def window_probs(self, proxy_ids: Tensor, context_ids: Tensor | None = None,
                     batch_size: int = 64) -> Tensor:
        """p before each token ``proxy_ids[w + prefix_len]``: (len - prefix_len, V), on the
        proxy's device."""
        device = self.model.device
        proxy_ids = proxy_ids.to(device)
        context_ids = context_ids.to(device) if context_ids is not None else None
        n = proxy_ids.numel() - self.prefix_len
        if self.context == "full":
            ctx = context_ids if context_ids is not None else proxy_ids[:0]
            logits = self.model(input_ids=torch.cat([ctx, proxy_ids]).unsqueeze(0)).logits[0]
            first = ctx.numel() + self.prefix_len - 1
            return logits[first:first + n].float().softmax(-1)
        windows = proxy_ids.unfold(0, self.prefix_len, 1)[:n]
        return torch.cat([self._last(windows[i:i + batch_size]) for i in range(0, n, batch_size)])

    def _last(self, ids: Tensor) -> Tensor:
        """p after each row of unpadded ids (only the last position's logits are computed)."""
        out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), logits_to_keep=1)
        return out.logits[:, -1].float().softmax(-1)
