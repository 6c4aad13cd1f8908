"""The robustness axis of the paper's evaluation (Sec. 5.2), on token ids.

* copy-paste: the watermarked text is pasted into human-written text, which makes up a share
  ``ratio`` of the result (half before, half after the watermarked tokens);
* substitution: a share ``ratio`` of the tokens, drawn at random, is replaced. The paper uses
  RoBERTa-large's MLM to propose replacements; offline we use a causal LM sharing the
  generator's tokenizer: each chosen token becomes the LM's most likely different token given
  the original text to its left (one forward pass for the whole text).
"""

from __future__ import annotations

import torch
from torch import Tensor
from transformers import PreTrainedModel


def copy_paste(watermarked: Tensor, human: Tensor, ratio: float) -> Tensor:
    """Surround ``watermarked`` with human tokens making up ``ratio`` of the result."""
    if not 0 <= ratio < 1:
        raise ValueError(f"copy-paste ratio {ratio} is not in [0, 1)")
    n_human = round(len(watermarked) * ratio / (1 - ratio))
    if n_human > len(human):
        raise ValueError(f"need {n_human} human tokens, have {len(human)}")
    before = n_human // 2
    return torch.cat([human[:before], watermarked, human[before:n_human]])


def substitution_positions(length: int, ratio: float, generator: torch.Generator,
                           start: int = 1) -> Tensor:
    """``round(ratio * (length - start))`` distinct positions in [start, length), sorted."""
    count = round(ratio * (length - start))
    return (torch.randperm(length - start, generator=generator)[:count] + start).sort().values


@torch.inference_mode()
def substitute(model: PreTrainedModel, ids: Tensor, positions: Tensor) -> Tensor:
    """Replace ``ids[positions]`` by the model's top token other than the original one."""
    if len(positions) == 0:
        return ids.clone()
    if int(positions.min()) < 1:
        raise ValueError("position 0 has no left context to predict it from")
    ids, positions = ids.to(model.device), positions.to(model.device)
    logits = model(input_ids=ids.unsqueeze(0)).logits[0, positions - 1].float()
    logits.scatter_(-1, ids[positions].unsqueeze(-1), -float("inf"))
    out = ids.clone()
    out[positions] = logits.argmax(-1)
    return out
