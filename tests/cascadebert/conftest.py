"""Fixtures of the cascadebert tests: a tiny random BERT encoder (absent assets skip)."""

from __future__ import annotations

import pytest

from common.assets import find_asset_error
from common.text.models import load_by_name


def tiny_encoder(layers: int = 3):
    try:
        model, tok = load_by_name("tiny-bert", head="base", num_hidden_layers=layers)
    except Exception as err:  # an absent package skips, anything else fails
        if find_asset_error(err) is None:
            raise
        pytest.skip(str(find_asset_error(err)))
    return model.eval(), tok


@pytest.fixture
def encoder():
    return tiny_encoder()
