"""Fixtures of the watermark tests: SmolLM2 / GPT-2 tokenizers and a tiny random causal LM
(absent assets skip)."""

from __future__ import annotations

import pytest
from conftest import load_or_skip

from common.text.models import load_by_name, load_tokenizer_by_name


@pytest.fixture(scope="module")
def tiny_lm():
    model, tok = load_or_skip(load_by_name, "tiny-llama", head="causal_lm")
    return model.eval(), tok


@pytest.fixture(scope="module")
def smollm_tokenizer():
    return load_or_skip(load_tokenizer_by_name, "smollm2-135m")


@pytest.fixture(scope="module")
def gpt2_tokenizer():
    return load_or_skip(load_tokenizer_by_name, "gpt2-tokenizer")
