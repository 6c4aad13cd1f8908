"""Model name (a ``configs/model/<name>.yaml``) -> loaded ``transformers`` model + tokenizer.

``instantiate(cfg.model, head="sequence_classification", num_labels=2)`` calls
:func:`load_model`; outside a Hydra run, :func:`load_by_name` does the same from the YAML file.
Pretrained weights come from a source (``common.text.sources``); ``tiny`` configs build a
random-weight model from a ``transformers`` config for unit tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from common.text.tokenizers import load_tokenizer

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "model"
HEADS = {
    "causal_lm": AutoModelForCausalLM,
    "masked_lm": AutoModelForMaskedLM,
    "sequence_classification": AutoModelForSequenceClassification,
    "base": AutoModel,
}


class TextModel(NamedTuple):
    """A loaded model (None for tokenizer-only configs) and its configured tokenizer."""

    model: PreTrainedModel | None
    tokenizer: PreTrainedTokenizerBase


def load_model(
    *,
    name: str,
    add_bos: bool | None,
    source: Any = None,
    tokenizer_source: Any = None,
    tiny: PretrainedConfig | None = None,
    head: str | None = "causal_lm",
    dtype: str = "float32",
    seed: int = 0,
    from_pretrained: dict[str, Any] | None = None,
    **model_kwargs: Any,
) -> TextModel:
    """Load the model ``name`` with the given ``head`` (a key of :data:`HEADS`, or None for the
    tokenizer only).

    ``source`` gives the pretrained folder; ``tokenizer_source`` overrides where the tokenizer
    comes from (tiny models borrow a real vocabulary). ``tiny`` builds random weights (seeded by
    ``seed``, leaving the global RNG untouched) with ``vocab_size`` and special ids set from the
    tokenizer. ``model_kwargs`` (``num_labels``, ...) go to the model config.
    """
    tok_source = tokenizer_source if tokenizer_source is not None else source
    if tok_source is None:
        raise ValueError(f"model '{name}' names neither a source nor a tokenizer_source")
    tokenizer = load_tokenizer(tok_source.resolve(), add_bos)
    if head is None:
        return TextModel(None, tokenizer)
    if head not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)} or None, got {head!r}")
    auto = HEADS[head]
    torch_dtype = getattr(torch, dtype)
    if tiny is not None:
        config = tiny.__class__.from_dict({**tiny.to_dict(), **_special_ids(tokenizer)})
        for key, value in model_kwargs.items():
            setattr(config, key, value)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = auto.from_config(config, dtype=torch_dtype)
    elif source is not None:
        kwargs = {**(from_pretrained or {}), **model_kwargs}
        model = auto.from_pretrained(source.resolve(), dtype=torch_dtype, **kwargs)
    else:
        raise ValueError(f"model '{name}' is tokenizer-only; load it with head=None")
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return TextModel(model, tokenizer)


def _special_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int | None]:
    return {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }


def model_config(name: str) -> DictConfig:
    """The model config ``configs/model/<name>.yaml`` (for code outside a Hydra run)."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise KeyError(f"no model config '{name}' in {CONFIG_DIR}; known: {known}")
    return OmegaConf.load(path)


def load_from_config(cfg: DictConfig, **kwargs: Any) -> TextModel:
    """``instantiate(cfg, **kwargs)`` for a text model config (e.g. ``ctx.cfg.model``)."""
    return instantiate(cfg, **kwargs)


def load_by_name(name: str, **kwargs: Any) -> TextModel:
    """Load ``configs/model/<name>.yaml``; kwargs override it (``head=``, ``num_labels=``)."""
    return load_from_config(model_config(name), **kwargs)


def load_tokenizer_by_name(name: str) -> PreTrainedTokenizerBase:
    """Only the configured tokenizer of model ``name`` (no weights are read)."""
    return load_by_name(name, head=None).tokenizer
