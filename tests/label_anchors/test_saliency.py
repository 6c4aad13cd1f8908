"""Saliency I_l (Eq. 1) against an autograd reference and finite differences; the index sets of
S_wp, S_pq, S_ww (Eq. 2-4) on a hand-built prompt."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from papers.label_anchors.attention import Hook, hooked
from papers.label_anchors.prompting import Prompt
from papers.label_anchors.saliency import (
    crossover_layer,
    flow_masks,
    flow_scores,
    proportions,
    saliency,
)


class KeepProbs(Hook):
    """Independent reference: the attention probabilities themselves, with retained grads."""

    def __init__(self) -> None:
        self.probs_by_layer = {}

    def probs(self, layer, probs):
        probs.retain_grad()
        self.probs_by_layer[layer] = probs
        return probs


class Scale(Hook):
    """Multiplies one attention entry by ``factor`` (finite differences)."""

    def __init__(self, index, factor):
        self.index, self.factor = index, factor

    def probs(self, layer, probs):
        if layer != self.index[0]:
            return probs
        scale = torch.ones_like(probs)
        scale[(0, *self.index[1:])] = self.factor
        return probs * scale


def _loss(setting, prompt, *hooks):
    with hooked(setting.model, *hooks):
        scores = setting.class_scores(setting.logits(prompt))
    return F.cross_entropy(scores[None], torch.tensor([prompt.query_label]))


def test_saliency_equals_attention_times_gradient(tiny_setting):
    prompt = tiny_setting.prompt(tiny_setting.test[0])
    ours = saliency(tiny_setting, prompt)
    keep = KeepProbs()
    with torch.enable_grad():
        for p in tiny_setting.model.parameters():
            p.requires_grad_(True)
        try:
            _loss(tiny_setting, prompt, keep).backward()
        finally:
            tiny_setting.model.requires_grad_(False)
    for layer, probs in keep.probs_by_layer.items():
        reference = (probs * probs.grad)[0].sum(0).abs()
        torch.testing.assert_close(ours[layer], reference.detach(), rtol=1e-4, atol=1e-9)


def test_saliency_matches_finite_differences(tiny_setting):
    prompt = tiny_setting.prompt(tiny_setting.test[1])
    probe_grad = {}

    class Probe(Hook):
        def probs(self, layer, probs):
            w = torch.ones_like(probs, requires_grad=True)
            probe_grad[layer] = w
            return probs * w

    with torch.enable_grad():
        loss = _loss(tiny_setting, prompt, Probe())
        grads = torch.autograd.grad(loss, [probe_grad[0], probe_grad[1]])
    q, p = prompt.target, prompt.label_positions[0]
    eps = 1e-3
    with torch.no_grad():
        for layer, head, i, j in [(0, 0, q, p), (1, 1, q, 0), (1, 0, p, 1)]:
            up = _loss(tiny_setting, prompt, Scale((layer, head, i, j), 1 + eps))
            down = _loss(tiny_setting, prompt, Scale((layer, head, i, j), 1 - eps))
            numeric = (up - down) / (2 * eps)
            assert abs(float(numeric) - float(grads[layer][0, head, i, j])) < 1e-4


def test_flow_index_sets_on_a_hand_built_prompt():
    prompt = Prompt(ids=list(range(6)), roles=[1] * 6, label_positions=[2, 4],
                    demo_labels=[0, 1], context_length=5)
    masks = flow_masks(prompt)
    assert sorted(map(tuple, masks["wp"].nonzero().tolist())) == [
        (2, 0), (2, 1), (4, 0), (4, 1), (4, 2), (4, 3)]
    assert sorted(map(tuple, masks["pq"].nonzero().tolist())) == [(5, 2), (5, 4)]
    assert sorted(map(tuple, masks["ww"].nonzero().tolist())) == [
        (1, 0), (3, 0), (3, 1), (3, 2), (5, 0), (5, 1), (5, 3)]
    importance = torch.arange(36.0).reshape(1, 6, 6)
    scores = flow_scores(importance, masks)[0]
    wp = (12 + 13 + 24 + 25 + 26 + 27) / 6
    pq = (32 + 34) / 2
    ww = (6 + 18 + 19 + 20 + 30 + 31 + 33) / 7
    torch.testing.assert_close(scores, torch.tensor([wp, pq, ww]))
    torch.testing.assert_close(proportions(scores[None])[0], scores / scores.sum())


def test_crossover_layer():
    wp_pq = torch.tensor([[3.0, 1.0, 0], [1.0, 2.0, 0], [2.0, 1.0, 0], [1.0, 3.0, 0],
                          [0.5, 4.0, 0]])
    assert crossover_layer(wp_pq) == 3
    assert crossover_layer(wp_pq[:3]) == -1
