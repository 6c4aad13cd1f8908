"""Shared fixtures of the language-core tests: each model is loaded once per session; a test
whose model package or mirror file is absent skips with the asset's name."""

from __future__ import annotations

import pytest

from common.assets import find_asset_error
from common.text.models import TextModel, load_by_name


def _load_or_skip(name: str, **kwargs) -> TextModel:
    """Skip when the model's asset is absent: an AssetError raised directly or as the cause of
    another error (hydra's ``InstantiationException`` wraps what its target raises)."""
    try:
        return load_by_name(name, **kwargs)
    except Exception as err:
        missing = find_asset_error(err)
        if missing is None:
            raise
        pytest.skip(f"asset '{missing.asset}' is absent")


@pytest.fixture(scope="session")
def load_or_skip():
    """``load_or_skip(name, **overrides)``: the model, or a skip naming the absent asset."""
    return _load_or_skip


@pytest.fixture(scope="session")
def gpt2_tokenizer():
    return _load_or_skip("gpt2-tokenizer").tokenizer


@pytest.fixture(scope="session")
def tiny_gpt2() -> TextModel:
    pair = _load_or_skip("tiny-gpt2")
    pair.model.eval()
    return pair


@pytest.fixture(scope="session")
def tiny_llama() -> TextModel:
    pair = _load_or_skip("tiny-llama")
    pair.model.eval()
    return pair


@pytest.fixture(scope="session")
def smollm2() -> TextModel:
    pair = _load_or_skip("smollm2-135m")
    pair.model.eval()
    return pair


@pytest.fixture(scope="session")
def minilm() -> TextModel:
    pair = _load_or_skip("minilm-l6", head="base")
    pair.model.eval()
    return pair
