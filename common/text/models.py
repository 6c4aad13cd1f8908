"""Model name (a ``configs/model/<name>.yaml``) -> loaded ``transformers`` model + tokenizer.

``instantiate(cfg.model, head="sequence_classification", num_labels=2)`` calls
:func:`load_model`; outside a Hydra run, :func:`load_by_name` does the same from the YAML file.
Pretrained weights come from a source (``common.text.sources``); ``tiny`` configs build a
random-weight model from a ``transformers`` config for unit tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from common.assets import find_asset_error
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


# Keyword arguments that choose how a model is built, not what it is: applied by transformers'
# ``from_config`` / ``from_pretrained`` (a ``setattr`` on the config would be ignored).
LOAD_OPTIONS = ("attn_implementation", "experts_implementation")
# Keywords that look like model options but must be given another way.
_REDIRECTED = {"torch_dtype": "use dtype='float32' / 'bfloat16' / ... (a torch dtype name)"}


def load_model(
    *,
    name: str,
    add_bos: bool | None,
    source: Any = None,
    tokenizer_source: Any = None,
    tiny: PretrainedConfig | None = None,
    head: str | None = "causal_lm",
    dtype: str = "float32",
    seed: int | None = None,
    from_pretrained: dict[str, Any] | None = None,
    **model_kwargs: Any,
) -> TextModel:
    """Load the model ``name`` with the given ``head`` (a key of :data:`HEADS`, or None for the
    tokenizer only).

    ``source`` gives the pretrained folder; ``tokenizer_source`` overrides where the tokenizer
    comes from (tiny models borrow a real vocabulary). ``tiny`` builds random weights (seeded by
    ``seed``, default 0) with ``vocab_size`` and special ids set from the tokenizer. For a
    pretrained ``source``, ``seed`` (if given) seeds the weights the checkpoint lacks (a new
    classification head); by default they come from the global RNG. Either way the global RNG is
    left untouched when ``seed`` is used. ``from_pretrained`` (pretrained only) is passed to
    ``from_pretrained`` as is.

    ``model_kwargs`` are either load options (:data:`LOAD_OPTIONS`, e.g.
    ``attn_implementation="eager"``) or attributes of the model's config (``num_labels``,
    ``hidden_dropout_prob``, ...); anything else is a ``TypeError`` naming the keyword and what is
    accepted, never silently ignored.
    """
    tok_source = tokenizer_source if tokenizer_source is not None else source
    if tok_source is None:
        raise ValueError(f"model '{name}' names neither a source nor a tokenizer_source")
    if head is None:
        if model_kwargs or from_pretrained:
            unused = sorted([*model_kwargs, *(["from_pretrained"] if from_pretrained else [])])
            raise TypeError(f"model '{name}': head=None loads only the tokenizer, so {unused} "
                            "would be ignored; pass a head (causal_lm, ...) or drop them")
        return TextModel(None, _tokenizer(tok_source, add_bos))
    if head not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)} or None, got {head!r}")
    torch_dtype = getattr(torch, dtype, None) if isinstance(dtype, str) else None
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"model '{name}': dtype must name a torch dtype ('float32', 'bfloat16', "
                         f"'float16', ...), got {dtype!r}")
    if tiny is None and source is None:
        raise ValueError(f"model '{name}' is tokenizer-only; load it with head=None")
    if tiny is not None and from_pretrained:
        raise TypeError(f"model '{name}' is a tiny random model: from_pretrained={from_pretrained}"
                        " applies only to a pretrained source")
    tokenizer = _tokenizer(tok_source, add_bos)
    auto = HEADS[head]
    options = {k: model_kwargs.pop(k) for k in LOAD_OPTIONS if k in model_kwargs}
    if tiny is not None:
        config = tiny.__class__.from_dict({**tiny.to_dict(), **_special_ids(tokenizer)})
        _set_config_attributes(name, config, model_kwargs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0 if seed is None else seed)
            model = auto.from_config(config, dtype=torch_dtype, **options)
    else:
        location, pinned = source.resolve(), _pretrained_kwargs(source)
        config = AutoConfig.from_pretrained(location, **pinned)
        depth = getattr(config, "num_hidden_layers", None)
        _set_config_attributes(name, config, model_kwargs)
        kwargs = {**pinned, **(from_pretrained or {}), **options}
        with torch.random.fork_rng(devices=[], enabled=seed is not None), \
                _quiet_if(getattr(config, "num_hidden_layers", None) != depth):
            if seed is not None:
                torch.manual_seed(seed)
            model = auto.from_pretrained(location, config=config, dtype=torch_dtype, **kwargs)
    for key, value in options.items():
        actual = getattr(model.config, f"_{key}", None)
        if actual != value:
            raise ValueError(f"model '{name}': {key}={value!r} did not take effect "
                             f"(the model uses {actual!r})")
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return TextModel(model, tokenizer)


@contextmanager
def _quiet_if(asked: bool) -> Iterator[None]:
    """transformers' load report at error level only, when ``asked``: a model cut to fewer
    layers (``num_hidden_layers=2``) leaves the dropped layers' weights "unexpected" on purpose."""
    verbosity = hf_logging.get_verbosity()
    if asked:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


def _pretrained_kwargs(source: Any) -> dict[str, Any]:
    """What a source needs every ``from_pretrained`` to get (a hub revision), if anything."""
    return source.pretrained_kwargs() if hasattr(source, "pretrained_kwargs") else {}


def _tokenizer(source: Any, add_bos: bool | None) -> PreTrainedTokenizerBase:
    return load_tokenizer(source.resolve(), add_bos, **_pretrained_kwargs(source))


def _set_config_attributes(name: str, config: PretrainedConfig, values: dict[str, Any]) -> None:
    """Set model keywords that are attributes of ``config``; refuse any other keyword."""
    for key, value in values.items():
        if key in _REDIRECTED:
            raise TypeError(f"model '{name}': {key} is not a model keyword; {_REDIRECTED[key]}")
        if not hasattr(config, key):
            raise TypeError(
                f"model '{name}': unknown keyword {key}={value!r}. Accepted: the loader's own "
                "(head, dtype, seed, from_pretrained, source, tokenizer_source, tiny, add_bos), "
                f"the load options {list(LOAD_OPTIONS)}, or an attribute of "
                f"{type(config).__name__} (num_labels, id2label, problem_type, "
                "output_hidden_states, ...)"
            )
        setattr(config, key, value)


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
    """``instantiate(cfg, **kwargs)`` for a text model config (e.g. ``ctx.cfg.model``); a missing
    asset raises its :class:`AssetError` itself, not hydra's wrapper around it."""
    try:
        return instantiate(cfg, **kwargs)
    except InstantiationException as err:
        missing = find_asset_error(err)
        if missing is None:
            raise
        raise missing from None


def load_by_name(name: str, **kwargs: Any) -> TextModel:
    """Load ``configs/model/<name>.yaml``; kwargs override it (``head=``, ``num_labels=``)."""
    return load_from_config(model_config(name), **kwargs)


def load_tokenizer_by_name(name: str) -> PreTrainedTokenizerBase:
    """Only the configured tokenizer of model ``name`` (no weights are read)."""
    return load_by_name(name, head=None).tokenizer
