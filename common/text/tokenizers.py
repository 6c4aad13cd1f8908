"""Tokenizers, and the one place that decides special tokens (BOS, CLS/SEP, padding).

Policy (set once per tokenizer by :func:`configure`, read by every encoder in this package):

- ``add_bos=None`` (encoders: BERT, MiniLM, MPNet): the tokenizer's own template is used
  (``[CLS] a [SEP] b [SEP]``); that template is stable across transformers versions.
- ``add_bos=True/False`` (causal LMs): the text is encoded with ``add_special_tokens=False``
  (transformers versions differ on whether GGUF/Gemma/OPT tokenizers add BOS themselves) and the
  BOS id is prepended explicitly iff ``add_bos`` is true. Each model config states its choice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

GPT2_EOS = "<|endoftext|>"
_POLICY = "_repro_add_bos"


def build_gpt2_bpe(encoder_json: Path, vocab_bpe: Path) -> PreTrainedTokenizerFast:
    """The GPT-2 byte-level BPE tokenizer (50,257 tokens) from OpenAI's ``encoder.json`` and
    ``vocab.bpe``, built on the ``tokenizers`` BPE model (``GPT2TokenizerFast(vocab_file=...)``
    yields an empty vocabulary under transformers 5)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = json.loads(Path(encoder_json).read_text(encoding="utf-8"))
    lines = Path(vocab_bpe).read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split()) for line in lines if line and not line.startswith("#version")]
    core = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=GPT2_EOS,
        eos_token=GPT2_EOS,
        unk_token=GPT2_EOS,
        model_max_length=1024,
    )


def configure(tokenizer: PreTrainedTokenizerBase, add_bos: bool | None) -> PreTrainedTokenizerBase:
    """Attach the special-token policy (see module docstring) and make padding usable:
    causal LMs without a pad token pad with EOS."""
    setattr(tokenizer, _POLICY, add_bos)
    if add_bos is not None and tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(location: str | Path, add_bos: bool | None, **kwargs) -> PreTrainedTokenizerBase:
    """``AutoTokenizer.from_pretrained(location, **kwargs)`` with the special-token policy
    attached (``kwargs``: e.g. a hub ``revision``)."""
    return configure(AutoTokenizer.from_pretrained(str(location), **kwargs), add_bos)


def add_bos(tokenizer: PreTrainedTokenizerBase) -> bool | None:
    """The tokenizer's policy: None for encoders (own template), else whether BOS is prepended."""
    if not hasattr(tokenizer, _POLICY):
        raise ValueError(
            "tokenizer has no special-token policy: load it with common.text.models / "
            "common.text.tokenizers.load_tokenizer, or call tokenizers.configure(tok, add_bos)"
        )
    return getattr(tokenizer, _POLICY)


def encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of ``text`` for a causal LM, BOS per the tokenizer's policy."""
    bos = add_bos(tokenizer)
    if bos is None:
        return tokenizer(text, add_special_tokens=True)["input_ids"]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if bos:
        if tokenizer.bos_token_id is None:
            raise ValueError(f"add_bos=true but {tokenizer.name_or_path} has no BOS token")
        ids = [tokenizer.bos_token_id, *ids]
    return ids


def encode_pair(
    tokenizer: PreTrainedTokenizerBase,
    first: str,
    second: str | None = None,
    *,
    max_length: int | None = None,
) -> dict[str, list[int]]:
    """Model inputs for one sentence or a sentence pair (classification).

    Encoders use their template (``[CLS] a [SEP] b [SEP]``, token types); causal LMs join a pair
    with a single space and follow the BOS policy. Truncation keeps the first ``max_length`` ids
    (``longest_first`` between the two sentences of a pair for encoders).
    """
    if add_bos(tokenizer) is None:
        out = tokenizer(
            first,
            second,
            add_special_tokens=True,
            truncation=max_length is not None,
            max_length=max_length,
        )
        return {k: list(v) for k, v in out.items()}
    text = first if second is None else f"{first} {second}"
    ids = encode(tokenizer, text)
    if max_length is not None:
        ids = ids[:max_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids)}


def pad_batch(
    tokenizer: PreTrainedTokenizerBase,
    sequences: Sequence[Sequence[int]],
    *,
    side: str = "right",
) -> dict[str, torch.Tensor]:
    """Pad id lists to the longest with the tokenizer's pad id; ``side="left"`` for generation."""
    if tokenizer.pad_token_id is None:
        raise ValueError(f"{tokenizer.name_or_path} has no pad token; call configure() first")
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        cols = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
        ids[row, cols] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[row, cols] = 1
    return {"input_ids": ids, "attention_mask": mask}
