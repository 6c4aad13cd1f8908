"""Extracting the message (Sec. 3.4): for every (prefix_len-token window, token) of a text and
every message m, whether the token lies in m's favoured set; per segment, the message whose
favoured sets hold the most tokens wins, with confidence softmax(counts)[winner].

Vectorised as the official decoder is: membership is computed once per window for the R
partitions (:func:`window_membership`), and a message's count gathers the membership of its
partition at each window (:func:`message_counts`); windows sharing a previous token share the
message -> partition map, so that map is hashed once per distinct context seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from papers.watermark.code import Code
from papers.watermark.hashing import hash32_
from papers.watermark.partitions import (
    balance_membership,
    context_seed,
    partition_index,
    permutation_seed,
    vanilla_favoured,
)
from papers.watermark.proxy import Proxy


@dataclass
class Decoded:
    """One segment: the decoded message, its confidence, and its count of favoured tokens."""

    message: int
    confidence: float
    count: int
    windows: int


def window_seeds(prev: Tensor, code: Code) -> tuple[Tensor, Tensor]:
    """Context seeds (W,) and the permutation seeds of all R partitions (W, R)."""
    seeds = context_seed(prev, code.key)
    perm = permutation_seed(seeds.unsqueeze(-1), torch.arange(code.partitions, device=prev.device),
                                code.partitions)
    return seeds, perm


def window_membership(code: Code, proxy_ids: Tensor, probs: Tensor | None, vocab_size: int,
                      head: int = 1024, chunk: int = 16) -> tuple[Tensor, Tensor]:
    """(context seeds (W,), membership (W, R)) of a text in the code's vocabulary: window w reads
    ``proxy_ids[w : w + prefix_len]`` and scores token ``proxy_ids[w + prefix_len]``;
    ``probs`` (W, V) are the proxy's predictions there (Balance), None for Vanilla."""
    prev, cur = proxy_ids[code.prefix_len - 1:-1], proxy_ids[code.prefix_len:]
    seeds, perm = window_seeds(prev, code)
    if code.method == "vanilla":
        return seeds, vanilla_favoured(perm, cur.unsqueeze(-1), vocab_size)
    member = torch.cat([balance_membership(probs[i:i + chunk], perm[i:i + chunk],
                                           cur[i:i + chunk], head)
                        for i in range(0, len(cur), chunk)])
    return seeds, member


def message_counts(member: Tensor, seeds: Tensor, bits: int, partitions: int,
                   chunk: int = 1024) -> Tensor:
    """counts[m] = sum_w member[w, idx(s_w, m)] for every m in [0, 2^L) (int32).

    Windows are first summed per distinct context seed (they share idx(s, .)); then, chunk by
    chunk of messages, idx = H((s mod 2^(32-L)) 2^L + m) mod R (:func:`partition_index`, here
    with the in-place :func:`hash32_`: the keys are below 2^32) indexes the per-seed sums."""
    unique, inverse = torch.unique(seeds, return_inverse=True)
    device = seeds.device
    per_seed = torch.zeros(len(unique), partitions, dtype=torch.int32, device=device)
    per_seed.index_add_(0, inverse, member.to(torch.int32))
    flat = per_seed.flatten()
    bases = ((unique % (1 << (32 - bits))) << bits).unsqueeze(-1)
    offsets = torch.arange(len(unique), device=device).unsqueeze(-1) * partitions
    counts = torch.empty(1 << bits, dtype=torch.int32, device=device)
    for start in range(0, 1 << bits, chunk):
        index = hash32_(bases + torch.arange(start, min(start + chunk, 1 << bits), device=device))
        index.remainder_(partitions)
        index += offsets
        counts[start:start + index.shape[1]] = flat[index].sum(0)
    return counts


def message_counts_loop(member: Tensor, seeds: Tensor, bits: int, partitions: int) -> Tensor:
    """The straightforward reference: one message at a time, its partition at every window."""
    rows = torch.arange(len(seeds), device=seeds.device)
    counts = torch.empty(1 << bits, dtype=torch.int32, device=seeds.device)
    for m in range(1 << bits):
        index = partition_index(seeds, m, bits, partitions)
        counts[m] = member[rows, index].sum()
    return counts


def pick(counts: Tensor, windows: int) -> Decoded:
    """argmax (the smallest message on ties) and its softmax confidence."""
    best = int(torch.argmax(counts))
    confidence = float(torch.softmax(counts.double(), 0)[best])
    return Decoded(best, confidence, int(counts[best]), windows)


def decode_segments(code: Code, seeds: Tensor, member: Tensor) -> list[Decoded]:
    """Every segment's message: windows [k E, (k + 1) E) carry segment k (E = encode_len)."""
    out = []
    for start in range(0, len(seeds), code.encode_len):
        part = slice(start, start + code.encode_len)
        counts = message_counts(member[part], seeds[part], code.bits, code.partitions)
        out.append(pick(counts, len(seeds[part])))
    return out


def decode(code: Code, ids: Tensor, proxy: Proxy | None, vocab_size: int,
           context_ids: Tensor | None = None, head: int = 1024) -> list[Decoded]:
    """The messages in a continuation given as generator token ids (1-D). ``context_ids`` (the
    prompt, generator ids) only matter for a ``full``-context proxy."""
    if ids.numel() <= code.prefix_len:
        raise ValueError(f"text of {ids.numel()} tokens: need more than {code.prefix_len}")
    probs = None
    if code.method == "balance":
        ids = proxy.to_proxy(ids)
        ctx = proxy.to_proxy(context_ids) if context_ids is not None else None
        probs = proxy.window_probs(ids, ctx)
        ids = ids.to(probs.device)
        vocab_size = proxy.vocab_size
    seeds, member = window_membership(code, ids, probs, vocab_size, head)
    return decode_segments(code, seeds, member)
