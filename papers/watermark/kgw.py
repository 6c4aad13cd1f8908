"""Kirchenbauer et al. (ICML 2023), "A Watermark for Large Language Models": the zero-bit
reference. The green list of the previous token holds each token with probability gamma; a text
is flagged by the one-proportion z-test z = (|s|_G - gamma T) / sqrt(T gamma (1 - gamma)) (Eq. 2).

Choice: membership is an independent hash threshold per token, H(s * |V| + j) < gamma * 2^32,
instead of the first gamma |V| tokens of a seeded permutation. Under the null (text written
without the key) each scored token is green with probability gamma either way, so the z-test is
unchanged, and detection costs one hash per token instead of a sort of the vocabulary.
"""

from __future__ import annotations

import math

from torch import Tensor

from papers.watermark.partitions import context_seed, order_keys

HASH_RANGE = 2**32


def green_mask(prev: Tensor, tokens: Tensor, gamma: float, key: int) -> Tensor:
    """Whether each token is on the green list of its previous token (broadcasting)."""
    seeds = context_seed(prev, key)
    return order_keys(seeds, tokens, 1 << 20) < int(gamma * HASH_RANGE)


def z_score(ids: Tensor, gamma: float, key: int) -> float:
    """Eq. 2 over every token that has a previous token in ``ids`` (T = len - 1)."""
    if ids.numel() < 2:
        raise ValueError("KGW needs at least two tokens")
    greens = int(green_mask(ids[:-1], ids[1:], gamma, key).sum())
    scored = ids.numel() - 1
    return (greens - gamma * scored) / math.sqrt(scored * gamma * (1 - gamma))
