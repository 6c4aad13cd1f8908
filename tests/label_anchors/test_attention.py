"""The hooked eager attention equals transformers' eager attention on GPT-2 and Llama (grouped
queries), and the model gets its own implementation back afterwards."""

from __future__ import annotations

import torch

from papers.label_anchors.attention import IMPLEMENTATION, Recorder, hooked


def test_no_hook_changes_nothing(tiny_setting):
    model = tiny_setting.model
    ids = tiny_setting.ids(tiny_setting.prompt(tiny_setting.test[0]))
    with torch.no_grad():
        reference = model(ids, output_attentions=True)
        recorder = Recorder(keep_qk=True)
        with hooked(model, recorder):
            assert model.config._attn_implementation == IMPLEMENTATION
            out = model(ids)
    assert model.config._attn_implementation == "eager"
    torch.testing.assert_close(out.logits, reference.logits, rtol=0, atol=0)
    assert sorted(recorder.attention) == list(range(tiny_setting.num_layers))
    for layer, probs in recorder.attention.items():
        torch.testing.assert_close(probs, reference.attentions[layer], rtol=0, atol=0)
        assert recorder.keys[layer].shape[1] == tiny_setting.num_heads  # kv heads repeated


def test_recorder_keeps_selected_rows(tiny_setting):
    prompt = tiny_setting.prompt(tiny_setting.test[0])
    recorder = Recorder(layers=[1], rows=[prompt.target])
    with torch.no_grad(), hooked(tiny_setting.model, recorder):
        tiny_setting.logits(prompt)
    assert list(recorder.attention) == [1]
    assert recorder.attention[1].shape == (1, tiny_setting.num_heads, 1, len(prompt.ids))
    ones = torch.ones(1, tiny_setting.num_heads, 1)
    torch.testing.assert_close(recorder.attention[1].sum(-1), ones)
