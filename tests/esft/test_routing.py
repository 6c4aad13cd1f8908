"""ESFT's expert scores (§3.2) on hand-made router outputs, the cumulative-threshold selection,
the probe against a one-sample-at-a-time loop, and DeepSeek-V2's balance loss."""

from __future__ import annotations

import pytest
import torch

from papers.esft.routing import (
    balance_loss,
    concentration,
    dense_gates,
    expert_scores,
    overlap,
    per_sample_means,
    probe_scores,
    random_like,
    record_routing,
    select_experts,
)


def test_dense_gates_keep_the_softmax_affinity_of_the_top_k_only():
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.4]]))
    gates = dense_gates(logits, torch.tensor([[3, 1]]))
    assert torch.allclose(gates, torch.tensor([[0.0, 0.2, 0.0, 0.4]]))  # not renormalised


def test_scores_average_per_token_within_a_sample_then_over_samples():
    # sample 0: two real tokens and a pad; sample 1: one token. E = 3, K = 1.
    gates = torch.tensor([[[0.6, 0.0, 0.0], [0.0, 0.5, 0.0], [0.9, 0.0, 0.0]],
                          [[0.0, 0.0, 0.8], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    g, r = per_sample_means(gates, mask)
    assert torch.allclose(g, torch.tensor([[0.3, 0.25, 0.0], [0.0, 0.0, 0.8]]))
    assert torch.allclose(r, torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]))
    scores = expert_scores(g, r, top_k=1)
    assert torch.allclose(scores["gate"], torch.tensor([0.15, 0.125, 0.4]))
    assert torch.allclose(scores["token"], torch.tensor([0.25, 0.25, 0.5]))
    # the token selection ratio of a layer sums to 1; the per-token average, not the pooled
    # one (pooled over the 3 real tokens: expert 2 would get 1/3, not 1/2)
    assert float(scores["token"].sum()) == pytest.approx(1.0)


@pytest.mark.parametrize(("p", "want"), [(0.5, [3]), (0.55, [3]), (0.6, [1, 3]),
                                         (0.9, [1, 2, 3]), (1.0, [0, 1, 2, 3])])
def test_selection_adds_experts_until_the_cumulative_score_reaches_p(p, want):
    scores = torch.tensor([0.05, 0.3, 0.1, 0.55])
    assert select_experts(scores, p) == want


def test_random_experts_match_the_count_per_layer():
    chosen = {1: [0, 4], 2: [1, 2, 3]}
    picked = random_like(chosen, 8, torch.Generator().manual_seed(0))
    assert {k: len(v) for k, v in picked.items()} == {1: 2, 2: 3}
    assert all(len(set(v)) == len(v) and max(v) < 8 for v in picked.values())
    assert random_like(chosen, 8, torch.Generator().manual_seed(0)) == picked


def test_balance_loss_matches_its_definition_in_a_loop():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(10, 6, generator=gen)
    top = logits.topk(2, dim=-1).indices
    s = logits.softmax(-1)
    total = 0.0
    for i in range(6):
        f = 6 / (2 * 10) * sum(int(i in top[t].tolist()) for t in range(10))
        total += f * float(s[:, i].mean())
    assert float(balance_loss(logits, top)) == pytest.approx(total, rel=1e-6)
    uniform = torch.zeros(8, 4)  # equal affinities, perfectly spread picks: the minimum 1
    assert float(balance_loss(uniform, torch.arange(8).remainder(4).view(8, 1))) == 1.0


def test_concentration_is_the_top_m_share():
    assert concentration(torch.tensor([0.1, 0.4, 0.2, 0.3]), 2) == pytest.approx(0.7)
    assert concentration(torch.full((8,), 0.125), 2) == pytest.approx(0.25)


def test_probe_of_a_padded_batch_equals_one_sample_at_a_time(tiny_moe):
    model, _ = tiny_moe
    gen = torch.Generator().manual_seed(1)
    lengths = [7, 4, 9]
    samples = [torch.randint(0, 1000, (n,), generator=gen) for n in lengths]
    ids = torch.zeros(3, 9, dtype=torch.long)
    mask = torch.zeros(3, 9, dtype=torch.long)
    for i, s in enumerate(samples):
        ids[i, : len(s)], mask[i, : len(s)] = s, 1
    batched = probe_scores(model, [{"input_ids": ids, "attention_mask": mask}])
    gate_sum: dict[int, torch.Tensor] = {}
    token_sum: dict[int, torch.Tensor] = {}
    for s in samples:
        with torch.no_grad(), record_routing(model) as records:
            model(input_ids=s.unsqueeze(0))
        for layer, calls in records.items():
            logits, idx = calls[-1]
            probs = logits.softmax(-1)
            g = torch.zeros_like(probs)
            for t in range(len(s)):  # g_{i,t} by hand: the affinity of each chosen expert
                for e in idx[t].tolist():
                    g[t, e] = probs[t, e]
            gate_sum[layer] = gate_sum.get(layer, 0) + g.mean(0) / len(samples)
            token_sum[layer] = token_sum.get(layer, 0) + (g > 0).float().mean(0) / (
                idx.shape[1] * len(samples))
    assert list(batched["gate"]) == [1]  # the tiny model's only MoE layer
    for layer in gate_sum:
        assert torch.allclose(batched["gate"][layer], gate_sum[layer], atol=1e-6)
        assert torch.allclose(batched["token"][layer], token_sum[layer], atol=1e-6)
        assert float(batched["token"][layer].sum()) == pytest.approx(1.0)
    assert float(batched["gate"][1].sum()) < 0.999  # top-K affinities are not renormalised
    halves = probe_scores(model, [{"input_ids": ids[:1], "attention_mask": mask[:1]},
                                  {"input_ids": ids[1:], "attention_mask": mask[1:]}])
    for kind in ("gate", "token"):  # samples pooled across batches as within one
        assert torch.allclose(halves[kind][1], batched[kind][1], atol=1e-6)


def test_overlap_is_one_for_equal_profiles_and_zero_for_disjoint_ones():
    a, b = torch.tensor([0.5, 0.5, 0.0, 0.0]), torch.tensor([0.0, 0.0, 0.5, 0.5])
    assert overlap(a, a) == pytest.approx(1.0) and overlap(a, b) == 0.0
    assert overlap(a, torch.tensor([0.25, 0.25, 0.25, 0.25])) == pytest.approx(0.5)
