"""Fixtures of the fine_purifying tests: a tiny random BERT classifier (absent assets skip)."""

from __future__ import annotations

import pytest

from common.assets import find_asset_error
from common.text.models import load_by_name


@pytest.fixture
def tiny_classifier():
    try:
        model, tok = load_by_name("tiny-bert", head="sequence_classification", num_labels=2)
    except Exception as err:  # an absent package skips, anything else fails
        if find_asset_error(err) is None:
            raise
        pytest.skip(str(find_asset_error(err)))
    return model.eval(), tok
