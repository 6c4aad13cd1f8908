"""Isolation masks block exactly the intended entries (Sec. 2.2)."""

from __future__ import annotations

import torch

from papers.label_anchors.attention import Recorder, hooked
from papers.label_anchors.isolation import Isolation, layer_block, random_rows, scaled_k


def _attention(setting, prompt, *hooks):
    recorder = Recorder()
    with torch.no_grad(), hooked(setting.model, *hooks, recorder):
        setting.logits(prompt)
    return recorder.attention


def test_blocked_entries_are_zero_and_nothing_else_moves(tiny_setting):
    prompt = tiny_setting.prompt(tiny_setting.test[0])
    rows = prompt.label_positions
    plain = _attention(tiny_setting, prompt)
    first = _attention(tiny_setting, prompt, Isolation(rows, [0]))
    blocked = Isolation(rows, [0]).mask(len(prompt.ids), torch.device("cpu"))
    assert int(blocked.sum()) == sum(rows)
    a, b = first[0][0], plain[0][0]  # layer 0, (heads, T, T)
    assert torch.all(a[:, blocked] == 0)
    for p in rows:
        torch.testing.assert_close(a[:, p, p], torch.ones(a.shape[0]))
    others = torch.ones(len(prompt.ids), dtype=torch.bool)
    others[rows] = False
    torch.testing.assert_close(a[:, others], b[:, others], rtol=0, atol=0)
    last = _attention(tiny_setting, prompt, Isolation(rows, [1]))
    torch.testing.assert_close(last[0], plain[0], rtol=0, atol=0)
    assert torch.all(last[1][0][:, blocked] == 0)


def test_layer_choice_and_scaling():
    assert layer_block("first", 3, 30) == [0, 1, 2]
    assert layer_block("last", 2, 30) == [28, 29]
    assert [scaled_k(k, 30, 48) for k in (1, 3, 5, 7)] == [1, 2, 3, 4]
    assert [scaled_k(k, 48, 48) for k in (1, 3, 5, 7)] == [1, 3, 5, 7]
    assert scaled_k(5, 2, None) == 2


def test_random_rows_avoid_labels_and_are_seeded():
    labels = [3, 7]
    first = random_rows(labels, 10, torch.Generator().manual_seed(0))
    again = random_rows(labels, 10, torch.Generator().manual_seed(0))
    assert first == again and len(first) == 2
    assert not set(first) & set(labels) and all(1 <= r < 10 for r in first)
