"""Fixtures of the cascadebert tests: a tiny random BERT encoder (absent assets skip)."""

from __future__ import annotations

import pytest
from conftest import load_or_skip

from common.text.models import load_by_name


def tiny_encoder(layers: int = 3):
    model, tok = load_or_skip(load_by_name, "tiny-bert", head="base", num_hidden_layers=layers)
    return model.eval(), tok


@pytest.fixture
def encoder():
    return tiny_encoder()
