"""Fixtures of the ESFT tests: the tiny random DeepSeek-V2 MoE (absent assets skip)."""

from __future__ import annotations

import pytest
from conftest import load_or_skip

from common.text.models import load_by_name


@pytest.fixture
def tiny_moe():
    model, tok = load_or_skip(load_by_name, "tiny-deepseek-moe", head="causal_lm")
    return model.eval(), tok
