"""Copy-paste and substitution attacks on token ids."""

from __future__ import annotations

import pytest
import torch

from papers.watermark.attacks import copy_paste, substitute, substitution_positions


def test_copy_paste_surrounds_the_watermark_with_the_human_share():
    marked, human = torch.arange(100, 120), torch.arange(60)
    out = copy_paste(marked, human, 0.5)
    assert len(out) == 40 and torch.equal(out[10:30], marked)
    assert torch.equal(out[:10], human[:10]) and torch.equal(out[30:], human[10:20])
    assert torch.equal(copy_paste(marked, human, 0.0), marked)
    with pytest.raises(ValueError):
        copy_paste(marked, human[:5], 0.75)


def test_substitution_replaces_exactly_the_chosen_tokens(tiny_lm):
    model, _ = tiny_lm
    ids = torch.randint(0, 500, (40,), generator=torch.Generator().manual_seed(0))
    positions = substitution_positions(40, 0.1, torch.Generator().manual_seed(1))
    assert len(positions) == 4 and int(positions.min()) >= 1
    out = substitute(model, ids, positions)
    changed = (out != ids).nonzero()[:, 0]
    assert torch.equal(changed, positions)
    logits = model(ids.unsqueeze(0)).logits[0, positions - 1]
    logits[torch.arange(4), ids[positions]] = -float("inf")
    assert torch.equal(out[positions], logits.argmax(-1))
