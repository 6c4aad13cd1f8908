"""Sec. 3.3 of Wang et al. (ICLR 2024): from context and message to a favoured vocabulary set.

For the previous token x_{t-1} and the message m (an integer in [0, 2^L)):

* context seed       s = H(H(key) * 2^20 + x_{t-1})             (hash prefix length 1)
* partition index    idx_m = H((s mod 2^(32-L)) * 2^L + m) mod R  (2^L messages share R partitions)
* permutation seed   a = H(s * R + idx_m)
* vocabulary order   pi = argsort_j H(a * |V| + j)               (stable: ties by token id)

and the favoured set of (s, m) is decided by a:

* **Balance-Marking**: walk pi summing the proxy LM's probabilities p; the tokens at and after
  the point where the running sum reaches 0.5 are favoured (they hold mass >= 0.5, and minimally:
  without the token at the crossing the mass is <= 0.5); the others get logit -delta.
* **Vanilla-Marking**: token j is favoured iff H(a * |V| + j) is even (a random half).

H is :func:`papers.watermark.hashing.hash_int`. All token ids here are in the watermark's
vocabulary: the proxy LM's (Balance) or the generator's (Vanilla).
"""

from __future__ import annotations

import torch
from torch import Tensor

from papers.watermark.hashing import hash_int

VOCAB_STRIDE = 2**20
MARGIN = 1e-9  # decisions closer than this to 0.5 are recomputed exactly as the encoder does


def context_seed(prev: Tensor, key: int) -> Tensor:
    """s = H(H(key) * 2^20 + previous token id): the seed of every choice at this position."""
    if bool((prev >= VOCAB_STRIDE).any()) or bool((prev < 0).any()):
        raise ValueError(f"token ids must lie in [0, 2^20), got {prev.min()}..{prev.max()}")
    return hash_int(hash_int(key) * VOCAB_STRIDE + prev)


def partition_index(seeds: Tensor, messages: Tensor | int, bits: int, partitions: int) -> Tensor:
    """idx_m = H((s mod 2^(32-L)) * 2^L + m) mod R, seeds and messages broadcasting
    (``seeds.unsqueeze(-1)`` against messages (M,) gives every message at every seed)."""
    base = (seeds % (1 << (32 - bits))) << bits
    return hash_int(base + messages) % partitions


def permutation_seed(seeds: Tensor, index: Tensor, partitions: int) -> Tensor:
    """a = H(s * R + idx), broadcasting seeds against partition indices."""
    return hash_int(seeds * partitions + index)


def order_keys(perm_seeds: Tensor, tokens: Tensor, vocab_size: int) -> Tensor:
    """H(a * |V| + j): sorting tokens by (key, id) gives the permutation pi of seed a."""
    return hash_int(perm_seeds * vocab_size + tokens)


def balance_favoured(probs: Tensor, perm_seeds: Tensor) -> Tensor:
    """Balance-Marking's favoured sets: probs (N, V), perm_seeds (N,) -> bool (N, V).

    The running sum over pi is taken in float64; token pi_k is favoured iff
    sum_{i <= k} p_{pi_i} >= 0.5 (the tokens before the crossing get -delta).
    """
    vocab = probs.shape[-1]
    keys = order_keys(perm_seeds.unsqueeze(-1), torch.arange(vocab, device=probs.device), vocab)
    perm = torch.argsort(keys, dim=-1, stable=True)
    running = probs.double().gather(-1, perm).cumsum(-1)
    return torch.zeros_like(perm, dtype=torch.bool).scatter_(-1, perm, running >= 0.5)


def vanilla_favoured(perm_seeds: Tensor, tokens: Tensor, vocab_size: int) -> Tensor:
    """Vanilla-Marking: token j is favoured iff H(a * |V| + j) is even (broadcasting)."""
    return order_keys(perm_seeds, tokens, vocab_size) % 2 == 0


def balance_membership(probs: Tensor, perm_seeds: Tensor, tokens: Tensor,
                       head: int = 1024) -> Tensor:
    """Whether ``tokens[w]`` is favoured under each of R seeds: probs (W, V), perm_seeds (W, R),
    tokens (W,) -> bool (W, R); equal to ``balance_favoured(probs[w], a)[tokens[w]]``.

    The decoder asks this for all R partitions of every window, where sorting R x |V| keys per
    window would dominate. Instead: the mass ranked before the token in pi is summed exactly over
    the proxy's ``head`` most likely tokens; the rest of the vocabulary (tail mass t) can add at
    most t. Where [lower, lower + t] does not straddle 0.5 the answer is decided; the remaining
    (window, partition) pairs are summed over the whole vocabulary (:func:`_membership_exact`).
    """
    n_windows, vocab = probs.shape
    head = min(head, vocab)
    p = probs.double()
    top_p, top_ids = p.topk(head, dim=-1)
    tail = (1.0 - top_p.sum(-1, keepdim=True)).clamp_min(0.0)
    p_token = p.gather(-1, tokens.unsqueeze(-1))
    token_in_head = (top_ids == tokens.unsqueeze(-1)).any(-1, keepdim=True)
    key_token = order_keys(perm_seeds, tokens.unsqueeze(-1), vocab)
    key_head = order_keys(perm_seeds.unsqueeze(-1), top_ids.unsqueeze(1), vocab)
    before = (key_head < key_token.unsqueeze(-1)) | (
        (key_head == key_token.unsqueeze(-1)) & (top_ids.unsqueeze(1) < tokens.view(-1, 1, 1)))
    lower = (before.double() * top_p.unsqueeze(1)).sum(-1) + p_token
    upper = lower + torch.where(token_in_head, tail, tail - p_token)
    member = lower >= 0.5 + MARGIN
    unsure = (upper >= 0.5 - MARGIN) & ~member
    if bool(unsure.any()):
        w, r = unsure.nonzero(as_tuple=True)
        for start in range(0, w.numel(), 32):
            ws, rs = w[start:start + 32], r[start:start + 32]
            member[ws, rs] = _membership_exact(probs[ws], perm_seeds[ws, rs], tokens[ws])
    return member


def _membership_exact(probs: Tensor, perm_seeds: Tensor, tokens: Tensor) -> Tensor:
    """Row i: is tokens[i] favoured under perm_seeds[i]? The mass ranked at or before the token,
    summed over the whole vocabulary; within ``MARGIN`` of 0.5 (where a different summation
    order could flip the answer), the encoder's own sort and running sum decide."""
    vocab = probs.shape[-1]
    ids = torch.arange(vocab, device=probs.device)
    keys = order_keys(perm_seeds.unsqueeze(-1), ids, vocab)
    key_token = keys.gather(-1, tokens.unsqueeze(-1))
    before = (keys < key_token) | ((keys == key_token) & (ids <= tokens.unsqueeze(-1)))
    mass = (probs.double() * before).sum(-1)
    member = mass >= 0.5
    close = (mass - 0.5).abs() < MARGIN
    if bool(close.any()):
        favoured = balance_favoured(probs[close], perm_seeds[close])
        member[close] = favoured.gather(-1, tokens[close].unsqueeze(-1)).squeeze(-1)
    return member
