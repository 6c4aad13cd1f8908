"""Text generation with ``LogitsProcessor`` support, returning only the continuation.

Watermarking methods act as a ``transformers.LogitsProcessor`` (they reshape the next-token
scores); this helper batches prompts with left padding, runs ``model.generate`` with the given
processors, and returns per prompt the continuation's text and ids (never the prompt).

Speed: decoding runs under ``torch.inference_mode`` with ``generate``'s KV cache; greedy output
equals a bare ``model.generate`` token for token, at its speed (``make text-bench``:
SmolLM2-135M, 20 tokens, ~18 tokens/s on 2 CPU cores). On a small CPU shared with other jobs,
torch's intra-op threads decide the speed: a decoding step is many tiny ops, and with 2 threads
on 2 busy cores each op waits for the other thread (2-3 tokens/s). One thread (the run option
``threads=1``, env ``REPRO_THREADS=1``) is as fast on a quiet 2-core machine and 6-7x faster on
a busy one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor, LogitsProcessorList, PreTrainedModel

from common.text.tokenizers import encode, pad_batch


@dataclass
class Generation:
    """One continuation: its decoded text, its token ids (up to, not including, EOS), the
    prompt's ids, and whether generation stopped at EOS."""

    text: str
    token_ids: list[int]
    prompt_ids: list[int]
    stopped_at_eos: bool


@torch.inference_mode()
def generate(
    model: PreTrainedModel,
    tokenizer,
    prompts: Sequence[str] | Sequence[Sequence[int]],
    *,
    max_new_tokens: int = 50,
    logits_processors: Sequence[LogitsProcessor] = (),
    do_sample: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    min_new_tokens: int = 0,
    batch_size: int = 8,
    **generate_kwargs,
) -> list[Generation]:
    """Continue each prompt (a string, encoded with the tokenizer's BOS policy, or a list of ids).

    Sampling draws from the global torch RNG (seeded by the run). Rows of a batch that stop early
    are padded by ``generate``; those pads and everything from the first EOS on are dropped.
    """
    encoded = [encode(tokenizer, p) if isinstance(p, str) else list(p) for p in prompts]
    eos = tokenizer.eos_token_id
    device = next(model.parameters()).device
    settings = {"do_sample": do_sample, "max_new_tokens": max_new_tokens,
                "min_new_tokens": min_new_tokens, "pad_token_id": tokenizer.pad_token_id,
                "eos_token_id": eos, **generate_kwargs}
    if do_sample:
        settings.update(temperature=temperature, top_k=top_k, top_p=top_p)
    results: list[Generation] = []
    for start in range(0, len(encoded), batch_size):
        chunk = encoded[start : start + batch_size]
        batch = {k: v.to(device) for k, v in pad_batch(tokenizer, chunk, side="left").items()}
        out = model.generate(
            **batch, logits_processor=LogitsProcessorList(logits_processors), **settings
        )
        width = batch["input_ids"].shape[1]
        for prompt_ids, row in zip(chunk, out[:, width:].tolist(), strict=True):
            stopped = eos is not None and eos in row
            ids = row[: row.index(eos)] if stopped else row
            text = tokenizer.decode(ids, skip_special_tokens=True)
            results.append(Generation(text, ids, prompt_ids, stopped))
    return results
