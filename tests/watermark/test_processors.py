"""Embedding: the codable processor's bias, delta = 0, end to end with the decoder on a tiny
LM, KGW's green list and z-score, and the paper's generation settings."""

from __future__ import annotations

import math

import torch

from common.text.generation import generate
from papers.watermark import kgw
from papers.watermark.code import Code
from papers.watermark.decoding import decode
from papers.watermark.partitions import (
    balance_favoured,
    context_seed,
    partition_index,
    permutation_seed,
)
from papers.watermark.processors import (
    CodableWatermark,
    KGWWatermark,
    SubtractiveRepetitionPenalty,
    SuppressTokens,
)
from papers.watermark.proxy import Proxy


def test_delta_zero_leaves_logits_unchanged(tiny_lm):
    model, _ = tiny_lm
    code = Code(delta=0.0, prefix_len=3, bits=4)
    proc = CodableWatermark(code, [[5]], 2, Proxy(model, None, 3))
    ids = torch.randint(0, 500, (1, 8))
    scores = torch.randn(1, model.config.vocab_size)
    assert torch.equal(proc(ids, scores.clone()), scores)


def test_balance_bias_is_minus_delta_outside_the_favoured_set(tiny_lm):
    model, _ = tiny_lm
    code = Code(delta=2.0, prefix_len=3, bits=4, partitions=10, top_k=50)
    proxy = Proxy(model, None, 3)
    proc = CodableWatermark(code, [[6], [9]], 2, proxy)
    ids = torch.randint(0, 500, (2, 7), generator=torch.Generator().manual_seed(0))
    scores = torch.randn(2, model.config.vocab_size, generator=torch.Generator().manual_seed(1))
    out = proc(ids, scores.clone())
    s = context_seed(ids[:, -1], code.key)
    a = permutation_seed(s, partition_index(s, torch.tensor([6, 9]), 4, 10), 10)
    favoured = balance_favoured(proxy.step_probs(ids[:, 2:], scores), a)
    top = scores.topk(50, dim=-1).indices
    want = scores.clone()
    want.scatter_add_(-1, top, torch.where(favoured.gather(-1, top), 0.0, -2.0))
    assert torch.allclose(out, want)
    untouched = torch.ones_like(scores, dtype=torch.bool).scatter_(-1, top, False)
    assert torch.equal(out[untouched], scores[untouched])


def test_prefix_tokens_are_not_watermarked(tiny_lm):
    model, _ = tiny_lm
    proc = CodableWatermark(Code(method="vanilla", prefix_len=5), [[1]], 4)
    ids, scores = torch.zeros(1, 8, dtype=torch.long), torch.randn(1, 100)
    assert torch.equal(proc(ids, scores.clone()), scores)


def test_generated_message_decodes_end_to_end(tiny_lm):
    model, tok = tiny_lm
    for method in ("balance", "vanilla"):
        code = Code(method=method, bits=6, encode_ratio=5, prefix_len=4, partitions=16,
                    delta=8.0, top_k=200)
        proxy = Proxy(model, None, code.prefix_len)
        prompts = [[11, 12, 13, 14, 15], [21, 22, 23, 24, 25]]
        messages = [[45], [7]]
        out = generate(model, tok, prompts, max_new_tokens=34, num_beams=2,
                       logits_processors=[CodableWatermark(code, messages, 5, proxy, 2),
                                          SuppressTokens([tok.eos_token_id])])
        for gen, message in zip(out, messages, strict=True):
            [found] = decode(code, torch.tensor(gen.token_ids), proxy, model.config.vocab_size)
            assert found.message == message[0], method
            assert found.count >= 0.9 * found.windows


def test_kgw_z_score_by_hand():
    ids = torch.tensor([3, 8, 1, 9, 4, 4, 7])
    green = kgw.green_mask(ids[:-1], ids[1:], 0.25, 42)
    g, t = int(green.sum()), 6
    assert kgw.z_score(ids, 0.25, 42) == (g - 0.25 * t) / math.sqrt(t * 0.25 * 0.75)


def test_kgw_adds_delta_to_the_green_list():
    ids, scores = torch.tensor([[5, 6]]), torch.zeros(1, 1000)
    out = KGWWatermark(2.0, 0.25, 1)(ids, scores)
    green = kgw.green_mask(torch.tensor([[6]]), torch.arange(1000), 0.25, 1)
    assert torch.equal(out, green.float() * 2.0)
    assert 0.2 < float(green.float().mean()) < 0.3


def test_subtractive_penalty_and_suppression():
    ids, scores = torch.tensor([[1, 3, 3]]), torch.zeros(1, 5)
    assert SubtractiveRepetitionPenalty(1.5)(ids, scores).tolist() == [[0, -1.5, 0, -1.5, 0]]
    out = SuppressTokens([4])(ids, scores)
    assert out[0, 4] == -float("inf") and scores[0, 4] == 0
