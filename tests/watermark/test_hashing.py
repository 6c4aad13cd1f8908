"""The hash: a pure-Python reference of Mueller's finaliser, stable values, the fast path."""

from __future__ import annotations

import pytest
import torch

from papers.watermark.hashing import GOLDEN, hash32_, hash_int, mix32


def mix32_reference(x: int) -> int:
    x &= 0xFFFFFFFF
    for _ in range(2):
        x = (((x >> 16) ^ x) * 0x45D9F3B) & 0xFFFFFFFF
    return (x >> 16) ^ x


def hash_reference(key: int) -> int:
    return mix32_reference((key & 0xFFFFFFFF) ^ mix32_reference((key >> 32) + GOLDEN))


KEYS = [0, 1, 2, 12345, 2**31, 2**32 - 1, 2**32, 2**40 + 7, 2**52 + 3, 2**62 + 11]


def test_mix32_and_hash_match_the_python_reference():
    keys = torch.tensor(KEYS)
    assert mix32(keys).tolist() == [mix32_reference(k) for k in KEYS]
    assert hash_int(keys).tolist() == [hash_reference(k) for k in KEYS]


def test_hash_values_are_stable_across_runs_and_platforms():
    # pinned once: a change of these breaks every watermark written before it
    assert hash_int(torch.tensor([0, 1, 42, 2**40 + 7])).tolist() == [
        hash_reference(0), hash_reference(1), hash_reference(42), hash_reference(2**40 + 7)]
    assert hash_reference(0) == 4243941292
    assert hash_reference(42) == 1078437808


def test_mix32_is_a_bijection_on_a_range():
    values = mix32(torch.arange(1 << 16))
    assert values.unique().numel() == 1 << 16


def test_in_place_fast_path_equals_hash_int_below_2_to_32():
    keys = torch.randint(0, 2**32, (1000,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(hash32_(keys.clone()), hash_int(keys))


def test_negative_keys_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        hash_int(torch.tensor([-1]))
