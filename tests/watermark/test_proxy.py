"""The proxy LM: generator -> proxy vocabulary by token string, window vs full context."""

from __future__ import annotations

import torch

from papers.watermark.proxy import Proxy, token_map


def test_token_map_between_two_tokenizers(smollm_tokenizer, gpt2_tokenizer):
    mapping = token_map(smollm_tokenizer, gpt2_tokenizer)
    gpt2_vocab = gpt2_tokenizer.get_vocab()
    for token in ("Ġthe", "Ġcompany", ".", "ing"):
        source = smollm_tokenizer.get_vocab()[token]
        assert int(mapping[source]) == gpt2_vocab[token]
    missing = [i for t, i in smollm_tokenizer.get_vocab().items() if t not in gpt2_vocab]
    assert missing and bool((mapping[torch.tensor(missing)] == -1).all())


def test_unmapped_ids_read_as_the_fallback(tiny_lm):
    model, _ = tiny_lm
    proxy = Proxy(model, torch.tensor([2, -1, 0]), 2, fallback_id=7)
    assert proxy.to_proxy(torch.tensor([0, 1, 2, 5])).tolist() == [2, 7, 0, 7]


def test_window_probs_read_only_the_window(tiny_lm):
    model, _ = tiny_lm
    proxy = Proxy(model, None, 3)
    ids = torch.tensor([4, 9, 13, 2, 8, 30])
    probs = proxy.window_probs(ids, batch_size=2)
    assert probs.shape == (3, model.config.vocab_size)
    alone = model(ids[1:4].unsqueeze(0)).logits[0, -1].softmax(-1)
    assert torch.allclose(probs[1], alone, atol=1e-6)
    assert torch.allclose(proxy.step_probs(ids[:4].unsqueeze(0), None)[0], probs[1], atol=1e-6)


def test_full_context_reuses_the_generators_distribution(tiny_lm):
    model, _ = tiny_lm
    proxy = Proxy(model, None, 2, context="full")
    scores = torch.randn(1, model.config.vocab_size)
    assert torch.allclose(proxy.step_probs(torch.zeros(1, 3, dtype=torch.long), scores),
                          scores.softmax(-1))
    prompt, ids = torch.tensor([5, 6, 7]), torch.tensor([8, 9, 10, 11])
    probs = proxy.window_probs(ids, prompt)
    logits = model(torch.cat([prompt, ids]).unsqueeze(0)).logits[0]
    assert torch.allclose(probs[0], logits[4].softmax(-1), atol=1e-6)  # predicts ids[2]
