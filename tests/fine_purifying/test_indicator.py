"""The indicator's ranking on a constructed poisoning, top-rho selection, the reset, E-PUR and
Fine-pruning."""

from __future__ import annotations

import pytest
import torch

from papers.fine_purifying.embedding import epur_mask, epur_scores, token_counts
from papers.fine_purifying.indicator import drift, indicator, reset, top_fraction
from papers.fine_purifying.pruning import ffn_layers, mean_activations, prune


def constructed():
    """Clean dimensions drift as diffusion predicts (delta^2 = c * H, noisy); the poison task moved
    dimensions 0..9 far although their clean curvature is small; dimensions 90..99 have high
    curvature and the largest clean drifts."""
    gen = torch.Generator().manual_seed(0)
    h = torch.rand(100, generator=gen) * 0.1 + 0.01
    h[90:] = 5.0
    delta = (h * 0.01).sqrt() * (1 + 0.1 * torch.randn(100, generator=gen))
    delta[:10] = 0.2
    return {"w": delta}, {"w": h}


def test_diffusion_indicator_finds_the_poisoned_dimensions():
    delta, h = constructed()
    chosen = top_fraction(indicator("diffusion", delta, h), 0.1)["w"]
    assert chosen.nonzero()[:, 0].tolist() == list(range(10))
    by_drift = top_fraction(indicator("drift", delta, None), 0.1)["w"]
    assert by_drift[:10].sum() < 10          # drift alone confuses them with curved clean dims
    assert by_drift[90:].any()


def test_indicator_values_by_hand():
    delta, h = {"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([0.5, 2.0])}
    got = indicator("diffusion", delta, h, eps=0.0)["w"]
    assert torch.allclose(got, torch.tensor([2.0, 2.0]))
    assert torch.equal(indicator("drift", delta, None)["w"], torch.tensor([1.0, 4.0]))
    with pytest.raises(ValueError):
        indicator("diffusion", delta, None)


def test_top_fraction_global_and_per_tensor():
    scores = {"a": torch.tensor([5.0, 1.0, 3.0, 0.0]), "b": torch.tensor([[4.0, 2.0], [6.0, 7.0]])}
    glob = top_fraction(scores, 0.5)
    assert glob["a"].tolist() == [True, False, False, False]
    assert glob["b"].tolist() == [[True, False], [True, True]]
    per = top_fraction(scores, 0.5, "per_tensor")
    assert per["a"].tolist() == [True, False, True, False]
    assert per["b"].tolist() == [[False, False], [True, True]]


def test_reset_touches_exactly_the_mask_and_rho_one_restores_pretraining(tiny_classifier):
    model, _ = tiny_classifier
    params = dict(model.named_parameters())
    names = [n for n in params if n.startswith("bert.")]
    pretrained = {n: params[n].detach().clone() for n in names}
    with torch.no_grad():
        for n in names:
            params[n].add_(torch.randn_like(params[n]))
    moved = {n: params[n].detach().clone() for n in names}
    scores = indicator("random", drift(params, pretrained), None,
                       generator=torch.Generator().manual_seed(0))
    masks = top_fraction(scores, 0.3)
    count = reset(model, pretrained, masks)
    total = sum(p.numel() for p in pretrained.values())
    assert count == round(0.3 * total)
    for n in names:
        m = masks[n]
        assert torch.equal(params[n][m], pretrained[n][m])
        assert torch.equal(params[n][~m], moved[n][~m])
    reset(model, pretrained, top_fraction(scores, 1.0))
    assert all(torch.equal(params[n], pretrained[n]) for n in names)


def test_epur_ranks_rare_tokens_that_moved():
    pre = torch.zeros(4, 2)
    ft = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.1, 0.0], [0.0, 0.0]])
    counts = token_counts([[0, 0, 0, 2], [0, 2]], 4)
    assert counts.tolist() == [4, 0, 2, 0]
    scores = epur_scores(ft, pre, counts)
    assert torch.allclose(scores[1], torch.tensor(1.0))      # log(e + 0) = 1
    assert torch.allclose(scores[0], 1 / torch.log(torch.tensor(4 + torch.e)))
    assert epur_mask(scores, 1).tolist() == [False, True, False, False]


def test_pruned_neurons_are_zero_and_stay_zero(tiny_classifier):
    model, tok = tiny_classifier
    batch = {**tok(["hello there", "a test sentence"], padding=True, return_tensors="pt"),
             "labels": torch.tensor([0, 1])}
    layers = ffn_layers(model)[-1:]
    acts = mean_activations(model, [batch], layers)
    hooks = prune(layers, acts, 0.5)
    dense_in = layers[0].intermediate.dense
    pruned = (dense_in.weight == 0).all(-1)
    assert int(pruned.sum()) == round(0.5 * dense_in.out_features)
    least = torch.topk(acts[0], int(pruned.sum()), largest=False).indices
    assert torch.equal(pruned, torch.isin(torch.arange(len(acts[0])), least))
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    model.train()
    for _ in range(2):
        opt.zero_grad()
        model(**batch).loss.backward()
        opt.step()
    assert (dense_in.weight[pruned] == 0).all() and (dense_in.bias[pruned] == 0).all()
    assert (layers[0].output.dense.weight[:, pruned] == 0).all()
    for h in hooks:
        h.remove()
