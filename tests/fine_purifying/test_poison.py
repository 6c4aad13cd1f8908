"""Trigger insertion, the poisoned set and ASR counting on toy data."""

from __future__ import annotations

import pytest
import torch

from papers.fine_purifying.poison import (
    Trigger,
    attack_success_rate,
    poison_indices,
    poison_texts,
    triggered_test,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_badword_inserts_one_trigger_word_deterministically():
    trigger = Trigger("badword", words=["cf", "mn"], count=2)
    out = trigger.apply("a b c d", gen())
    words = out.split()
    assert len(words) == 6 and sum(w in ("cf", "mn") for w in words) == 2
    assert [w for w in words if w not in ("cf", "mn")] == ["a", "b", "c", "d"]
    assert out == trigger.apply("a b c d", gen())


def test_badsent_inserts_the_sentence_whole():
    sentence = "I watched this 3D movie."
    out = Trigger("badsent", sentence=sentence).apply("x y z", gen(1))
    assert sentence in out and out.replace(sentence, "").split() == ["x", "y", "z"]


def test_poisoning_picks_non_target_examples_and_relabels_them():
    labels = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    chosen = poison_indices(labels, 0.3, target=0, generator=gen())
    assert len(chosen) == 3 and all(labels[i] == 1 for i in chosen)
    texts = [f"t{i}" for i in range(10)]
    p_texts, p_labels = poison_texts(texts, labels, chosen, Trigger(words=["cf"]), 0, gen())
    for i in range(10):
        if i in chosen:
            assert p_labels[i] == 0 and "cf" in p_texts[i].split()
        else:
            assert (p_texts[i], p_labels[i]) == (texts[i], labels[i])


def test_triggered_test_set_excludes_the_target_class():
    texts, labels = ["a", "b", "c", "d"], [0, 1, 0, 1]
    out = triggered_test(texts, labels, Trigger(words=["cf"]), target=0, generator=gen())
    assert len(out) == 2 and all("cf" in t.split() for t in out)


def test_attack_success_rate_counts_target_predictions():
    assert attack_success_rate(torch.tensor([0, 0, 1, 2]), 0) == 0.5
    with pytest.raises(ValueError):
        attack_success_rate(torch.tensor([], dtype=torch.long), 0)
