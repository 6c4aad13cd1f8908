"""Fine-mixing's embedding purification, E-PUR (Zhang et al., Findings of EMNLP 2022, Sec. 3.3):
a trigger word is rare in clean text, yet its embedding moved far during (poisoned) fine-tuning.
Ours: token k scores ||e^FT_k - e^Pre_k||_2 / log(e + f_k), f_k its count in the defender's
clean set, and the ``tokens`` highest-scoring embedding rows are reset to w^Pre. (The paper's
exact frequency weighting could not be retrieved offline; this keeps its two ingredients, drift
norm up and frequency down.)"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor


def token_counts(token_ids: Iterable[Sequence[int]], vocab_size: int) -> Tensor:
    """How often each vocabulary id occurs in the clean set."""
    counts = torch.zeros(vocab_size)
    for ids in token_ids:
        counts.index_add_(0, torch.as_tensor(list(ids), dtype=torch.long),
                          torch.ones(len(ids)))
    return counts


def epur_scores(finetuned: Tensor, pretrained: Tensor, counts: Tensor) -> Tensor:
    """||delta e_k|| / log(e + f_k) per token (rows of the embedding matrices)."""
    return (finetuned - pretrained).norm(dim=-1) / torch.log(counts + math.e)


def epur_mask(scores: Tensor, tokens: int) -> Tensor:
    """Row mask of the ``tokens`` highest scores, broadcast over the embedding dimension."""
    mask = torch.zeros_like(scores, dtype=torch.bool)
    mask[torch.topk(scores, min(tokens, len(scores))).indices] = True
    return mask
