import math

import pytest
import torch
import torch.nn.functional as F

from common.text.perplexity import conditional_perplexity, perplexity, sliding_window_nll


def _reference_nll(model, ids, max_length, stride, score_from=1):
    """Token by token: token i is scored in the first window [k*stride, k*stride+max_length)
    that contains it and is not fully scored before, with that window's tokens before it as
    context (the definition of the sliding-window evaluation)."""
    total, count, scored_until, begin = 0.0, 0, max(score_from, 1), 0
    n = len(ids)
    while scored_until < n:
        end = min(begin + max_length, n)
        for i in range(max(scored_until, begin + 1), end):
            with torch.no_grad():
                logits = model(torch.tensor([ids[begin:i]])).logits[0, -1]
            total += float(F.cross_entropy(logits[None], torch.tensor([ids[i]])))
            count += 1
        scored_until = max(scored_until, end)
        if end == n:
            break
        begin += stride
    return total, count


@pytest.mark.parametrize(("max_length", "stride"), [(64, 64), (8, 4), (8, 3), (6, 6)])
def test_sliding_window_matches_token_by_token_reference(tiny_gpt2, max_length, stride):
    model, _ = tiny_gpt2
    ids = torch.randint(0, 50257, (16,), generator=torch.Generator().manual_seed(0)).tolist()
    total, count = sliding_window_nll(model, ids, max_length=max_length, stride=stride)
    ref_total, ref_count = _reference_nll(model, ids, max_length, stride)
    assert count == ref_count
    assert total == pytest.approx(ref_total, rel=1e-5)


def test_single_window_equals_the_models_own_loss(tiny_gpt2):
    model, tok = tiny_gpt2
    text = "The quick brown fox jumps over the lazy dog."
    ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        loss = model(ids, labels=ids).loss
    assert perplexity(model, tok, text, max_length=256) == pytest.approx(math.exp(loss), rel=1e-5)


def test_conditional_perplexity_scores_only_the_continuation(tiny_gpt2):
    model, _ = tiny_gpt2
    prompt, cont = [464, 3139, 286, 4881, 318], [6342, 13]
    total, count = _reference_nll(model, prompt + cont, 256, 128, score_from=len(prompt))
    assert count == 2
    assert conditional_perplexity(model, prompt, cont) == pytest.approx(math.exp(total / 2),
                                                                        rel=1e-5)
