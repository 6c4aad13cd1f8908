"""The integer hash behind every watermark seed, partition and vocabulary order.

The paper (Sec. 3.3, App. "Hash function") hashes integer keys to seed its pseudo-random
choices; its official code uses a 64-bit shift/add mix and Python's ``hash`` of a token tuple
for the context seed. Ours is a different, documented function chosen to be identical on every
platform and in every process (Python's ``hash`` of a tuple is not guaranteed to be):

``mix32``: Mueller's 32-bit integer finaliser, x <- ((x >> 16) ^ x) * 0x45d9f3b twice, then
x <- (x >> 16) ^ x, every product reduced mod 2^32. Computed in int64, where 32-bit x times a
27-bit constant never overflows, so the result is exact, vectorised, and platform-independent.
``hash_int``: keys up to 2^63 -> [0, 2^32), mix32(low 32 bits ^ mix32(high 32 bits + golden)).
"""

from __future__ import annotations

import torch
from torch import Tensor

MASK32 = 0xFFFFFFFF
MUL = 0x45D9F3B
GOLDEN = 0x9E3779B9


def mix32(x: Tensor) -> Tensor:
    """Mueller's 32-bit finaliser on int64 values in [0, 2^32); a bijection of [0, 2^32)."""
    x = x & MASK32
    x = (((x >> 16) ^ x) * MUL) & MASK32
    x = (((x >> 16) ^ x) * MUL) & MASK32
    return (x >> 16) ^ x


def hash32_(key: Tensor) -> Tensor:
    """``hash_int`` of int64 keys known to lie in [0, 2^32), in place: the high half is zero,
    so H(k) = mix32(k ^ mix32(golden)). The decoder's hot loop (every message at every context
    seed); in-place updates of cache-sized chunks run ~10x faster than the allocating version."""
    key ^= HIGH_ZERO
    for _ in range(2):
        key ^= key >> 16
        key *= MUL
        key &= MASK32
    key ^= key >> 16
    return key


def hash_int(key: Tensor | int) -> Tensor:
    """Hash non-negative int64 keys (any shape) to int64 values in [0, 2^32)."""
    key = torch.as_tensor(key, dtype=torch.int64)
    if bool((key < 0).any()):
        raise ValueError("hash_int: keys must be non-negative")
    return mix32((key & MASK32) ^ mix32((key >> 32) + GOLDEN))


HIGH_ZERO = int(mix32(torch.tensor(GOLDEN)))
