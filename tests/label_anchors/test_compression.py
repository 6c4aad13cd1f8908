"""Anchor-only context compression (Sec. 3.2): the cache surgery against full ICL and against a
masked full forward, Hidden_random's draws, Text_anchor's prompt and the comparison's rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from papers.label_anchors.compression import (
    METHODS,
    compare_compression,
    context_cache,
    query_logits,
    random_keep,
    text_anchor_prompt,
)
from papers.label_anchors.prompting import FIELD, FORMAT, LABEL


def _prompts(setting):
    prompts = setting.prompts()
    assert len(prompts) >= 3
    return prompts


def test_keeping_every_position_is_full_icl(tiny_setting):
    prompts = _prompts(tiny_setting)
    everything = list(range(prompts[0].context_length))
    cache = context_cache(tiny_setting, prompts[0], everything)
    for prompt in prompts[:3]:
        ours = query_logits(tiny_setting, prompt, cache, len(everything))
        with torch.inference_mode():
            full = tiny_setting.logits(prompt)
        torch.testing.assert_close(ours, full, atol=1e-5, rtol=0)


def _masked_reference(setting, prompt, keep):
    """Full forward over the whole prompt where the query rows see only the kept context
    columns (plus the query causally): what the reduced cache must compute."""
    length, context = len(prompt.ids), prompt.context_length
    allowed = torch.ones(length, length).tril().bool()
    dropped = [t for t in range(context) if t not in set(keep)]
    allowed[context:, dropped] = False
    mask = torch.zeros(1, 1, length, length).masked_fill(~allowed, float("-inf"))
    with torch.inference_mode():
        return setting.model(setting.ids(prompt), attention_mask=mask).logits[0, -1].float()


def test_hidden_anchor_matches_a_masked_full_forward(tiny_setting):
    prompts = _prompts(tiny_setting)
    keep = prompts[0].anchor_positions()
    assert 0 < len(keep) < prompts[0].context_length
    cache = context_cache(tiny_setting, prompts[0], keep)
    for prompt in prompts[:2]:
        ours = query_logits(tiny_setting, prompt, cache, len(keep))
        torch.testing.assert_close(ours, _masked_reference(tiny_setting, prompt, keep),
                                   atol=1e-5, rtol=0)
        with torch.inference_mode():
            assert not torch.allclose(ours, tiny_setting.logits(prompt), atol=1e-5)


def test_shared_cache_is_not_mutated(tiny_setting):
    first, second, third = _prompts(tiny_setting)[:3]
    keep = first.anchor_positions()
    shared = context_cache(tiny_setting, first, keep)
    query_logits(tiny_setting, second, shared, len(keep))
    after = query_logits(tiny_setting, third, shared, len(keep))
    alone = query_logits(tiny_setting, third, context_cache(tiny_setting, first, keep), len(keep))
    torch.testing.assert_close(after, alone, atol=0, rtol=0)
    assert shared.get_seq_length() == len(keep)


def test_hidden_random_swaps_each_label_for_one_text_token(tiny_setting):
    prompt = _prompts(tiny_setting)[0]
    keep = random_keep(prompt, np.random.default_rng(3))
    context_roles = {t: prompt.roles[t] for t in range(prompt.context_length)}
    assert not [t for t in keep if context_roles[t] == LABEL]
    assert {t for t, r in context_roles.items() if r == FORMAT} <= set(keep)
    for k in range(len(prompt.label_positions)):
        assert len(set(keep) & set(prompt.field_positions(k))) == 1
    assert sum(context_roles[t] == FIELD for t in keep) == len(prompt.label_positions)
    assert keep == random_keep(prompt, np.random.default_rng(3))
    draws = {tuple(random_keep(prompt, np.random.default_rng(seed))) for seed in range(8)}
    assert len(draws) > 1


def test_text_anchor_prompt_keeps_formatting_and_label_words(tiny_setting):
    demos = [{"sentence": "a gorgeous film", "label": 1}, {"sentence": "dull", "label": 0}]
    prompt = tiny_setting.prompt({"sentence": "it works", "label": 1}, demos)
    anchored = text_anchor_prompt(tiny_setting, prompt, demos)
    expected = ("Review:\nSentiment: Positive\nReview:\nSentiment: Negative\n"
                "Review: it works\nSentiment:")
    tokenizer = tiny_setting.tokenizer
    assert tokenizer.decode(anchored.ids, skip_special_tokens=True) == expected
    bos = prompt.ids[:1] if prompt.ids[0] == tokenizer.bos_token_id else []
    assert anchored.ids == bos + tokenizer(expected, add_special_tokens=False)["input_ids"]
    assert [anchored.ids[p] for p in anchored.label_positions] == [
        tiny_setting.first_label_tokens[c] for c in (1, 0)]
    assert anchored.query_label == 1
    with pytest.raises(ValueError, match="demonstration labels"):
        text_anchor_prompt(tiny_setting, prompt, demos[::-1])


def test_compare_compression_rows(tiny_setting):
    prompts = _prompts(tiny_setting)[:3]
    results = compare_compression(tiny_setting, prompts, top_k=5, trials=2,
                                  generator=np.random.default_rng(0))
    assert set(results) == {"icl", *METHODS}
    assert results["icl"]["context_tokens"] == prompts[0].context_length
    for method in METHODS:
        row = results[method]
        for metric in ("label_loyalty", "word_loyalty", "accuracy"):
            assert 0.0 <= row[metric] <= 1.0
        assert row["speedup"] == pytest.approx(
            results["icl"]["seconds_per_query"] / row["seconds_per_query"])
    assert results["hidden_anchor"]["kept_tokens"] == len(prompts[0].anchor_positions())
    assert results["hidden_random_top"]["best_trial"] in (0.0, 1.0)


def test_compare_compression_needs_one_demonstration_set(tiny_setting):
    prompts = _prompts(tiny_setting)
    other = tiny_setting.prompt(tiny_setting.test[0], tiny_setting.demonstrations[::-1])
    with pytest.raises(ValueError, match="contexts differ"):
        compare_compression(tiny_setting, [prompts[0], other], ["hidden_anchor"],
                            generator=np.random.default_rng(0))
