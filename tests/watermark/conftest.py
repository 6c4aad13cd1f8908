"""Fixtures of the watermark tests: SmolLM2 / GPT-2 tokenizers and a tiny random causal LM
(absent assets skip)."""

from __future__ import annotations

import pytest

from common.assets import find_asset_error
from common.text.models import load_by_name, load_tokenizer_by_name


def _or_skip(load, *args, **kwargs):
    try:
        return load(*args, **kwargs)
    except Exception as err:  # an absent package skips, anything else fails
        if find_asset_error(err) is None:
            raise
        pytest.skip(str(find_asset_error(err)))


@pytest.fixture(scope="module")
def tiny_lm():
    model, tok = _or_skip(load_by_name, "tiny-llama", head="causal_lm")
    return model.eval(), tok


@pytest.fixture(scope="module")
def smollm_tokenizer():
    return _or_skip(load_tokenizer_by_name, "smollm2-135m")


@pytest.fixture(scope="module")
def gpt2_tokenizer():
    return _or_skip(load_tokenizer_by_name, "gpt2-tokenizer")
