"""Sec. 3.4: the vectorised message scorer against the per-message loop, decoding of texts
built to carry a message, and human-like (random) text decoding at chance."""

from __future__ import annotations

import torch

from papers.watermark.code import Code, bit_accuracy
from papers.watermark.decoding import (
    decode,
    message_counts,
    message_counts_loop,
    window_seeds,
)
from papers.watermark.partitions import partition_index, permutation_seed, vanilla_favoured


def test_vectorised_counts_equal_the_per_message_loop():
    gen = torch.Generator().manual_seed(0)
    seeds = torch.randint(0, 2**32, (40,), generator=gen)
    seeds[5:15] = seeds[0]                       # repeated contexts share their partition map
    member = torch.rand(40, 7, generator=gen) < 0.5
    for bits in (1, 4, 9):
        assert torch.equal(message_counts(member, seeds, bits, 7, chunk=64),
                           message_counts_loop(member, seeds, bits, 7))


def vanilla_text(code: Code, message: int, length: int, vocab: int, seed: int) -> torch.Tensor:
    """Tokens that each lie in the favoured set of (previous token, message)."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (code.prefix_len,), generator=gen).tolist()
    while len(ids) < length:
        s, _ = window_seeds(torch.tensor([ids[-1]]), code)
        index = partition_index(s, message, code.bits, code.partitions)
        a = permutation_seed(s, index, code.partitions)
        favoured = vanilla_favoured(a.unsqueeze(-1), torch.arange(vocab), vocab)[0]
        choices = favoured.nonzero()[:, 0]
        ids.append(int(choices[torch.randint(len(choices), (1,), generator=gen)]))
    return torch.tensor(ids)


def test_a_text_in_the_messages_favoured_sets_decodes_with_full_confidence():
    code = Code(method="vanilla", bits=6, encode_ratio=10, partitions=20)
    ids = vanilla_text(code, 37, code.prefix_len + 60, 500, seed=1)
    [found] = decode(code, ids, None, 500)
    assert found.message == 37 and found.count == found.windows == 60
    assert found.confidence > 0.999


def test_segments_decode_in_order():
    code = Code(method="vanilla", bits=5, encode_ratio=8, partitions=20)  # 40 tokens a segment
    first = vanilla_text(code, 3, code.prefix_len + 40, 300, seed=2)
    rest = vanilla_text(code, 29, 40 + code.prefix_len, 300, seed=3)[code.prefix_len:]
    # the second segment's first token must follow the first segment's last one
    ids = torch.cat([first, rest])
    found = decode(code, ids, None, 300)
    assert [d.message for d in found] == [3, 29]


def test_random_text_decodes_at_chance():
    code = Code(method="vanilla", bits=8, partitions=100)
    gen = torch.Generator().manual_seed(7)
    hits, confidence = 0, []
    for message in range(20):
        ids = torch.randint(0, 1000, (code.prefix_len + 80,), generator=gen)
        [found] = decode(code, ids, None, 1000)
        hits += found.message == message
        confidence.append(found.confidence)
    assert hits <= 1
    marked = decode(code, vanilla_text(code, 5, code.prefix_len + 80, 1000, 0), None, 1000)[0]
    assert max(confidence) < marked.confidence


def test_bit_accuracy_counts_equal_bits():
    assert bit_accuracy(0b1010, 0b1010, 4) == 1.0
    assert bit_accuracy(0b1010, 0b1000, 4) == 0.75
    assert bit_accuracy(0, 0b1111, 4) == 0.0
