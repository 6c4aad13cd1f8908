"""Routing statistics of a DeepSeek-V2 MoE: the probe, ESFT's expert relevance scores (§3.2),
the cumulative-threshold selection and the load-balance loss used to pretrain the miniature.

The router of layer l gives token k softmax affinities s_{i,k} over the routed experts and keeps
the top K; ESFT's gate value is g_{i,k} = s_{i,k} if expert i is among token k's top K, else 0
(DeepSeek-V2 does not renormalise the kept gates).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder layers of a DeepSeek-V2/V3 causal LM, through a ``peft`` wrapper if any."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model.layers


def moe_routers(model: nn.Module) -> dict[int, nn.Module]:
    """Layer index -> the router (``mlp.gate``) of every MoE layer of a DeepSeek-V2/V3 model."""
    return {i: layer.mlp.gate for i, layer in enumerate(decoder_layers(model))
            if hasattr(layer.mlp, "gate")}


def dense_gates(router_logits: Tensor, topk_indices: Tensor) -> Tensor:
    """g_{i,k}: the softmax affinity where expert i is in token k's top K, else 0 ([T, E])."""
    scores = router_logits.float().softmax(dim=-1)
    return torch.zeros_like(scores).scatter(-1, topk_indices, scores.gather(-1, topk_indices))


@contextmanager
def record_routing(model: nn.Module, keep_grad: bool = False) -> Iterator[dict[int, list]]:
    """Within the block every router call appends ``(router_logits, topk_indices)`` (tokens
    flattened, [B*T, E] and [B*T, K]) to ``records[layer]``; detached unless ``keep_grad``."""
    records: dict[int, list] = {}
    handles = []
    for layer, router in moe_routers(model).items():
        records[layer] = []

        def hook(_module, _inputs, output, layer=layer):
            logits, _, indices = output
            records[layer].append((logits if keep_grad else logits.detach(), indices.detach()))

        handles.append(router.register_forward_hook(hook))
    try:
        yield records
    finally:
        for h in handles:
            h.remove()


def per_sample_means(gates: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample token averages (1/L_j) sum_k of g_{i,k} and of 1[g_{i,k} > 0] ([B, E] each)
    for gates ``[B, T, E]`` and an attention ``mask`` [B, T] (padding excluded)."""
    m = mask.to(gates.dtype).unsqueeze(-1)
    lengths = m.sum(dim=1).clamp_min(1)
    return (gates * m).sum(dim=1) / lengths, ((gates > 0).to(gates.dtype) * m).sum(dim=1) / lengths


def expert_scores(sample_gate_means: Tensor, sample_select_means: Tensor, top_k: int
                  ) -> dict[str, Tensor]:
    """ESFT §3.2 from per-sample token averages ([N_s, E]): the average gate score
    g_i = (1/N_s) sum_j (1/L_j) sum_k g_{i,k} and the token selection ratio
    r_i = (1/N_s) sum_j (1/L_j) sum_k 1[g_{i,k} > 0] / K. Both are per-token averages (the
    paper's definition), not normalised across layers."""
    return {"gate": sample_gate_means.mean(dim=0),
            "token": sample_select_means.mean(dim=0) / top_k}


@torch.no_grad()
def probe_scores(model: nn.Module, batches: list[dict[str, Tensor]]
                 ) -> dict[str, dict[int, Tensor]]:
    """Run the frozen model on ``batches`` (``input_ids``, ``attention_mask``) and return
    ``{"gate": {layer: g [E]}, "token": {layer: r [E]}}``."""
    was_training = model.training
    model.eval()
    gate_means: dict[int, list[Tensor]] = {}
    select_means: dict[int, list[Tensor]] = {}
    routers = moe_routers(model)
    for batch in batches:
        shape = batch["input_ids"].shape
        with record_routing(model) as records:
            model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        for layer, calls in records.items():
            logits, indices = calls[-1]
            gates = dense_gates(logits, indices).view(*shape, -1)
            g, r = per_sample_means(gates, batch["attention_mask"])
            gate_means.setdefault(layer, []).append(g)
            select_means.setdefault(layer, []).append(r)
    model.train(was_training)
    out: dict[str, dict[int, Tensor]] = {"gate": {}, "token": {}}
    for layer in gate_means:
        scores = expert_scores(torch.cat(gate_means[layer]), torch.cat(select_means[layer]),
                               routers[layer].top_k)
        for kind, value in scores.items():
            out[kind][layer] = value.cpu()
    return out


def select_experts(scores: Tensor, p: float) -> list[int]:
    """ESFT §3.2: sort one layer's experts by score and take them, best first, until the
    cumulative score reaches ``p`` (the expert that crosses ``p`` is included)."""
    order = torch.argsort(scores, descending=True, stable=True)
    cumulative = torch.cumsum(scores[order], dim=0)
    count = int((cumulative < p).sum()) + 1
    return sorted(order[: min(count, len(order))].tolist())


def select_all(scores: dict[int, Tensor], p: float) -> dict[int, list[int]]:
    """:func:`select_experts` for every layer."""
    return {layer: select_experts(s, p) for layer, s in scores.items()}


def random_like(selection: dict[int, list[int]], num_experts: int, gen: torch.Generator
                ) -> dict[int, list[int]]:
    """The ablation's random experts: per layer, as many as ``selection`` picked, uniformly."""
    return {layer: sorted(torch.randperm(num_experts, generator=gen)[: len(chosen)].tolist())
            for layer, chosen in selection.items()}


def balance_loss(router_logits: Tensor, topk_indices: Tensor) -> Tensor:
    """DeepSeek-V2's expert-level balance loss (§2.2.3, eq. 12-14) without alpha:
    sum_i f_i P_i with f_i = N / (K T) sum_t 1[t picks i] and P_i = (1/T) sum_t s_{i,t}."""
    scores = router_logits.float().softmax(dim=-1)
    tokens, experts = scores.shape
    k = topk_indices.shape[-1]
    picks = torch.zeros_like(scores).scatter(-1, topk_indices, 1.0).sum(dim=0)
    f = picks * experts / (k * tokens)
    return (f * scores.mean(dim=0)).sum()


def concentration(selection_ratio: Tensor, m: int) -> float:
    """Share of the routing (token selection ratio summing to 1) held by the top ``m``
    experts of a layer; ``m / E`` under uniform routing (the paper's Fig. 2 reading)."""
    total = float(selection_ratio.sum())
    return float(selection_ratio.sort(descending=True).values[:m].sum()) / total if total else 0.0


def overlap(ratio_a: Tensor, ratio_b: Tensor) -> float:
    """Histogram intersection sum_i min(r_a,i, r_b,i) of two token-selection-ratio profiles of
    one layer: 1 when two domains route identically, 0 when they use disjoint experts."""
    return float(torch.minimum(ratio_a, ratio_b).sum())
