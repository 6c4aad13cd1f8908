"""Fixtures of the fine_purifying tests: a tiny random BERT classifier (absent assets skip)."""

from __future__ import annotations

import pytest
from conftest import load_or_skip

from common.text.models import load_by_name


@pytest.fixture
def tiny_classifier():
    model, tok = load_or_skip(load_by_name, "tiny-bert", head="sequence_classification",
                              num_labels=2)
    return model.eval(), tok
