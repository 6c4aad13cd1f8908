"""A model-agnostic eager attention with hooks: the one place every analysis of Wang et al. 2023
touches the attention matrix A_l (Sec. 2).

The function is registered with transformers' ``AttentionInterface`` under
:data:`IMPLEMENTATION`, so any model whose attention modules call the interface (GPT-2, Llama,
Mistral, Qwen, ...) computes ``softmax(Q K^T * scaling + mask)`` here, with grouped-query keys
repeated per head, and exposes three points to :class:`Hook` objects:

* ``scores(layer, S)``: the pre-softmax scores, mask already added (isolation adds ``-inf``);
* ``probs(layer, A)``: the probabilities after softmax (saliency multiplies by a ones parameter,
  anchor re-weighting by ``exp(beta)``, without renormalising);
* ``qk(layer, Q, K)``: query and key vectors per head (error diagnosis, Sec. 4.3).

``with hooked(model, *hooks):`` switches the model to this implementation and back. Probabilities
with no hook are bit-equal to transformers' own eager attention (tested on GPT-2 and Llama).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import Tensor, nn
from transformers import AttentionInterface, PreTrainedModel
from transformers.masking_utils import AttentionMaskInterface, eager_mask

IMPLEMENTATION = "label_anchors_eager"

_ACTIVE: ContextVar[tuple[Hook, ...]] = ContextVar("label_anchor_hooks", default=())


class Hook:
    """Override any of the three points; the defaults leave the attention unchanged."""

    def scores(self, layer: int, scores: Tensor) -> Tensor:
        return scores

    def probs(self, layer: int, probs: Tensor) -> Tensor:
        return probs

    def qk(self, layer: int, query: Tensor, key: Tensor) -> None:
        return None


def _layer_of(module: nn.Module) -> int:
    layer = getattr(module, "layer_idx", None)
    if layer is None:
        raise TypeError(f"{type(module).__name__} has no layer_idx: cannot hook its attention")
    return int(layer)


def hooked_attention(
    module: nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **_: object,
) -> tuple[Tensor, Tensor]:
    """Eager attention ``A = softmax(Q K^T * scaling + mask)`` with the active hooks applied.

    ``query`` is (batch, heads, q_len, d), ``key``/``value`` (batch, kv_heads, k_len, d); each key
    head serves ``heads / kv_heads`` consecutive query heads (grouped-query attention). Returns
    the output (batch, q_len, heads, d) and ``A`` (batch, heads, q_len, k_len).
    """
    layer = _layer_of(module)
    hooks = _ACTIVE.get()
    groups = query.shape[1] // key.shape[1]
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    for hook in hooks:
        hook.qk(layer, query, key)
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask[..., : key.shape[-2]]
    for hook in hooks:
        scores = hook.scores(layer, scores)
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    for hook in hooks:
        probs = hook.probs(layer, probs)
    probs = nn.functional.dropout(probs, p=dropout, training=module.training)
    output = torch.matmul(probs, value).transpose(1, 2).contiguous()
    return output, probs


AttentionInterface.register(IMPLEMENTATION, hooked_attention)
AttentionMaskInterface.register(IMPLEMENTATION, eager_mask)


@contextmanager
def hooked(model: PreTrainedModel, *hooks: Hook) -> Iterator[None]:
    """Run ``model`` on :func:`hooked_attention` with ``hooks`` inside the block, then restore
    its own attention implementation."""
    previous = model.config._attn_implementation
    model.set_attn_implementation(IMPLEMENTATION)
    token = _ACTIVE.set(tuple(hooks))
    try:
        yield
    finally:
        _ACTIVE.reset(token)
        model.set_attn_implementation(previous)


class Recorder(Hook):
    """Keeps A_l (and, with ``keep_qk``, Q_l and K_l) of the layers in ``layers`` (None: all),
    detached, for the rows ``rows`` of the query axis (None: all)."""

    def __init__(self, layers: Sequence[int] | None = None, *, rows: Sequence[int] | None = None,
                 keep_qk: bool = False) -> None:
        self.layers = None if layers is None else set(layers)
        self.rows = None if rows is None else list(rows)
        self.keep_qk = keep_qk
        self.attention: dict[int, Tensor] = {}
        self.queries: dict[int, Tensor] = {}
        self.keys: dict[int, Tensor] = {}

    def _wanted(self, layer: int) -> bool:
        return self.layers is None or layer in self.layers

    def _select(self, x: Tensor) -> Tensor:
        return x if self.rows is None else x[..., self.rows, :]

    def probs(self, layer: int, probs: Tensor) -> Tensor:
        if self._wanted(layer):
            self.attention[layer] = self._select(probs).detach()
        return probs

    def qk(self, layer: int, query: Tensor, key: Tensor) -> None:
        if self.keep_qk and self._wanted(layer):
            self.queries[layer] = self._select(query).detach()
            self.keys[layer] = key.detach()
