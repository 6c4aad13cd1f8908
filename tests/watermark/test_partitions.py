"""Sec. 3.3: seeds, partitions, Balance-Marking's favoured sets and the decoder's membership."""

from __future__ import annotations

import pytest
import torch

from papers.watermark.partitions import (
    balance_favoured,
    balance_membership,
    context_seed,
    order_keys,
    partition_index,
    permutation_seed,
    vanilla_favoured,
)


def peaked_probs(rows: int, vocab: int, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(rows, vocab, generator=gen) * scale).softmax(-1)


def test_seed_pipeline_follows_the_formulas():
    from papers.watermark.hashing import hash_int

    prev, key, bits, r = torch.tensor([5, 17]), 42, 4, 10
    s = context_seed(prev, key)
    assert s.tolist() == hash_int(hash_int(key) * 2**20 + prev).tolist()
    idx = partition_index(s.unsqueeze(-1), torch.arange(1 << bits), bits, r)
    assert idx.shape == (2, 16) and int(idx.max()) < r
    expected = hash_int((int(s[1]) % 2**28) * 2**4 + 9) % r
    assert int(idx[1, 9]) == int(expected)
    a = permutation_seed(s, idx[:, 3], r)
    assert a.tolist() == hash_int(s * r + idx[:, 3]).tolist()


def test_context_seed_rejects_ids_outside_the_stride():
    with pytest.raises(ValueError, match="token ids"):
        context_seed(torch.tensor([2**20]), 1)


def test_balance_favoured_holds_half_the_mass_minimally():
    probs = peaked_probs(20, 300)
    seeds = torch.arange(20) * 7919
    favoured = balance_favoured(probs, seeds)
    keys = order_keys(seeds.unsqueeze(-1), torch.arange(300), 300)
    perm = torch.argsort(keys, dim=-1, stable=True)
    for row in range(20):
        mass = float(probs[row][favoured[row]].sum())
        assert mass >= 0.5 - 1e-9
        ordered = favoured[row][perm[row]]
        first = int(ordered.nonzero()[0])          # the favoured tokens are a suffix of pi
        assert bool(ordered[first:].all()) and not bool(ordered[:first].any())
        assert mass - float(probs[row, perm[row, first]]) <= 0.5 + 1e-9


def test_vanilla_favoured_is_about_half_the_vocabulary():
    favoured = vanilla_favoured(torch.tensor([[3], [4]]), torch.arange(10000), 10000)
    assert 0.47 < float(favoured.float().mean()) < 0.53
    assert not torch.equal(favoured[0], favoured[1])


@pytest.mark.parametrize("head", [1, 8, 64, 400])
def test_head_bounded_membership_equals_the_encoders_sets(head):
    windows, r, vocab = 12, 9, 400
    probs = peaked_probs(windows, vocab, seed=3)
    seeds = torch.randint(0, 2**32, (windows, r), generator=torch.Generator().manual_seed(4))
    tokens = torch.randint(0, vocab, (windows,), generator=torch.Generator().manual_seed(5))
    got = balance_membership(probs, seeds, tokens, head)
    for w in range(windows):
        want = balance_favoured(probs[w].expand(r, -1), seeds[w])[:, tokens[w]]
        assert torch.equal(got[w], want)
