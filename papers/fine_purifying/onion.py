"""ONION (Qi et al., EMNLP 2021), the input-level reference defence: a word whose removal
lowers the sentence's perplexity under a language model by more than ``threshold`` is an
outlier (a likely trigger) and is deleted before classification. Suspicion of word i:
f_i = PPL(s) - PPL(s without word i)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import PreTrainedModel

from common.text.tokenizers import encode, pad_batch


@torch.inference_mode()
def perplexities(model: PreTrainedModel, tokenizer, texts: Sequence[str],
                 batch_size: int = 32) -> Tensor:
    """Per-text perplexity (mean NLL of every token after the first), batched with padding."""
    out = []
    device = next(model.parameters()).device
    for start in range(0, len(texts), batch_size):
        ids = [encode(tokenizer, t) or [tokenizer.eos_token_id]
               for t in texts[start:start + batch_size]]
        batch = {k: v.to(device) for k, v in pad_batch(tokenizer, ids, side="right").items()}
        logits = model(**batch).logits[:, :-1].float()
        target, mask = batch["input_ids"][:, 1:], batch["attention_mask"][:, 1:].float()
        nll = F.cross_entropy(logits.transpose(1, 2), target, reduction="none") * mask
        out.append(torch.exp(nll.sum(1) / mask.sum(1).clamp_min(1)).cpu())
    return torch.cat(out)


def suspicion(model: PreTrainedModel, tokenizer, text: str) -> Tensor:
    """f_i for every word of ``text``."""
    words = text.split()
    variants = [text] + [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
    ppl = perplexities(model, tokenizer, variants)
    return ppl[0] - ppl[1:]


def filter_text(model: PreTrainedModel, tokenizer, text: str, threshold: float = 0.0) -> str:
    """``text`` without the words whose suspicion exceeds ``threshold``."""
    words = text.split()
    if len(words) < 2:
        return text
    keep = suspicion(model, tokenizer, text) <= threshold
    return " ".join(w for w, k in zip(words, keep.tolist(), strict=True) if k)
