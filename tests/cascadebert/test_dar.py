"""Difficulty labels and the DAR margin ranking loss (Sec. 3.2)."""

import pytest
import torch

from papers.cascadebert.dar import dar_loss, dar_pairs, difficulty_labels


def test_easy_means_correct_for_every_seed_by_default():
    correct = torch.tensor([[1, 1, 0, 1], [1, 0, 0, 1], [1, 1, 0, 1]], dtype=torch.bool)
    assert difficulty_labels(correct).tolist() == [True, False, False, True]
    assert difficulty_labels(correct, min_correct=2).tolist() == [True, True, False, True]
    with pytest.raises(ValueError, match="min_correct"):
        difficulty_labels(correct, min_correct=4)


def test_pairs_join_only_easy_with_hard():
    easy = torch.tensor([True, False, True, True, False])
    g = torch.Generator().manual_seed(0)
    e, h = dar_pairs(easy, g)
    assert e.tolist() == [0, 2, 3]
    assert all(not easy[i] for i in h.tolist())


def test_no_pairs_without_both_kinds():
    for easy in (torch.ones(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)):
        e, h = dar_pairs(easy)
        assert len(e) == len(h) == 0
        conf = torch.rand(3, requires_grad=True)
        loss = dar_loss(conf, easy, 0.5)
        assert loss.item() == 0.0
        loss.backward()


def test_loss_is_zero_when_the_margin_holds_and_the_hinge_otherwise():
    easy = torch.tensor([True, False])
    assert dar_loss(torch.tensor([0.95, 0.40]), easy, 0.5).item() == 0.0
    assert dar_loss(torch.tensor([0.80, 0.60]), easy, 0.5).item() == pytest.approx(0.3)


def test_loss_by_hand_with_the_drawn_pairs():
    conf = torch.tensor([0.9, 0.7, 0.6, 0.55])
    easy = torch.tensor([True, True, False, False])
    g = torch.Generator().manual_seed(3)
    e, h = dar_pairs(easy, torch.Generator().manual_seed(3))
    want = torch.stack([torch.clamp(0.5 - (conf[a] - conf[b]), min=0)
                        for a, b in zip(e.tolist(), h.tolist(), strict=True)]).mean()
    assert dar_loss(conf, easy, 0.5, g).item() == pytest.approx(want.item())
