"""Anchor re-weighting (Eq. 6-7): beta = 0 changes nothing; beta scales exactly A(q, p_i)."""

from __future__ import annotations

import torch

from papers.label_anchors.attention import Recorder, hooked
from papers.label_anchors.reweighting import AnchorReweighting, reweighting_loss


def _module(setting, prompt):
    return AnchorReweighting(setting.num_layers, setting.num_heads, prompt.label_positions)


def test_zero_beta_leaves_logits_unchanged(tiny_setting):
    prompt = tiny_setting.prompt(tiny_setting.test[0])
    with torch.no_grad():
        plain = tiny_setting.logits(prompt)
        with hooked(tiny_setting.model, _module(tiny_setting, prompt)):
            hooked_logits = tiny_setting.logits(prompt)
    torch.testing.assert_close(hooked_logits, plain, rtol=0, atol=0)


def test_beta_scales_only_the_target_row_at_anchors(tiny_setting):
    prompt = tiny_setting.prompt(tiny_setting.test[0])
    module = _module(tiny_setting, prompt)
    with torch.no_grad():
        module.beta[0, 1, 0] = 0.5
    before, after = Recorder(layers=[0]), Recorder(layers=[0])
    with torch.no_grad(), hooked(tiny_setting.model, before, module, after):
        tiny_setting.logits(prompt)
    a, b = before.attention[0][0], after.attention[0][0]
    expected = a.clone()
    expected[1, prompt.target, prompt.label_positions[0]] *= float(torch.tensor(0.5).exp())
    torch.testing.assert_close(b, expected)
    assert not torch.allclose(b[1, -1].sum(), torch.tensor(1.0))  # not renormalised


def test_gradient_reaches_beta_only(tiny_setting):
    prompt = tiny_setting.prompt(tiny_setting.test[0])
    module = _module(tiny_setting, prompt)
    with torch.enable_grad():
        reweighting_loss(tiny_setting, module, prompt).backward()
    assert module.beta.grad is not None and module.beta.grad.abs().sum() > 0
    assert all(p.grad is None for p in tiny_setting.model.parameters())
