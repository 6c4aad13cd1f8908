"""Token roles and the positions p_k, q of a hand-built prompt (Sec. 2)."""

from __future__ import annotations

import pytest

from common.text.models import load_tokenizer_by_name
from common.text.prompts import ICLTemplate, label_token_ids
from papers.label_anchors.prompting import FIELD, FORMAT, LABEL, build_prompt

TEMPLATE = ICLTemplate("Review: {sentence}\nSentiment: {label}", ["Negative", "Positive"])
DEMOS = [{"sentence": "good film", "label": 1}, {"sentence": "bad", "label": 0}]
QUERY = {"sentence": "fine", "label": 1}


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer_by_name("gpt2-tokenizer")


def test_positions_and_roles(tok):
    prompt = build_prompt(tok, TEMPLATE, DEMOS, QUERY, "label",
                          label_ids=label_token_ids(tok, TEMPLATE))
    tokens = [tok.decode([i]) for i in prompt.ids]
    assert "".join(tokens) == TEMPLATE.build(DEMOS, QUERY)
    assert [tokens[p] for p in prompt.label_positions] == [" Positive", " Negative"]
    assert prompt.demo_labels == [1, 0] and prompt.query_label == 1
    assert tokens[prompt.target] == ":" and prompt.target == len(tokens) - 1
    assert tokens[prompt.context_length] == "Review"
    assert "".join(tokens[: prompt.context_length]).endswith("Negative\n")
    roles = dict(zip(range(len(tokens)), prompt.roles, strict=True))
    assert [tokens[t] for t in roles if roles[t] == FIELD] == [" good", " film", " bad", " fine"]
    assert [tokens[t] for t in roles if roles[t] == LABEL] == [" Positive", " Negative"]
    assert all(roles[t] == FORMAT for t in range(len(tokens))
               if tokens[t] in ("Review", ":", "\n", "Sent", "iment"))
    kept = [tokens[t] for t in prompt.anchor_positions()]
    assert " good" not in kept and " bad" not in kept and " Positive" in kept
    assert len(kept) == prompt.context_length - 3
    assert [tokens[t] for t in prompt.field_positions(1)] == [" bad"]


def test_label_token_mismatch_is_an_error(tok):
    merged = ICLTemplate("Review: {sentence}\nSentiment:{label}", ["Negative", "Positive"])
    with pytest.raises(ValueError, match="label word"):
        build_prompt(tok, merged, DEMOS, QUERY, "label", label_ids=[0, 1])
