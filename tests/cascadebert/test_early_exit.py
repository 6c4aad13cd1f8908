"""DeeBERT's entropy exit, PABEE's patience counter and their losses on toy logits."""

import math

import pytest
import torch
from torch.nn import functional as F

from papers.cascadebert.early_exit import (
    deebert_exits,
    deebert_ramp_loss,
    entropy,
    exit_outputs,
    pabee_exits,
    pabee_loss,
)


def test_entropy_by_hand():
    assert entropy(torch.tensor([0.0, 0.0])).item() == pytest.approx(math.log(2))
    p = torch.tensor([0.9, 0.1])
    assert entropy(p.log()).item() == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)))


def _logits(probs):
    return torch.tensor(probs).log()


def test_deebert_exits_at_the_first_confident_layer():
    # 3 layers x 2 examples: example 0 is confident at layer 2, example 1 never
    layer_logits = _logits([[[0.6, 0.4], [0.5, 0.5]],
                            [[0.99, 0.01], [0.55, 0.45]],
                            [[0.999, 0.001], [0.6, 0.4]]])
    h = entropy(layer_logits[1, 0]).item()
    assert deebert_exits(layer_logits, h + 1e-6).tolist() == [1, 2]
    assert deebert_exits(layer_logits, h).tolist() == [2, 2]  # strict <


def test_pabee_counter_by_hand():
    # predictions per layer (rows) for 3 examples (columns)
    preds = torch.tensor([[0, 1, 0],
                          [0, 0, 1],
                          [0, 0, 0],
                          [0, 0, 1],
                          [1, 0, 1]])
    layer_logits = F.one_hot(preds, 2).float()
    # example 0 agrees at layers 1, 2: counter 2 at layer index 2
    # example 1: agrees at 2, 3, 4 -> counter 2 at index 3
    # example 2: flips at 1, 2, 3; agrees at 4 -> counter 1 only: last layer
    assert pabee_exits(layer_logits, 2).tolist() == [2, 3, 4]
    assert pabee_exits(layer_logits, 1).tolist() == [1, 2, 4]
    with pytest.raises(ValueError):
        pabee_exits(layer_logits, 0)


def test_pabee_loss_weights_layers_by_depth():
    torch.manual_seed(0)
    layer_logits = torch.randn(3, 4, 2)
    labels = torch.tensor([0, 1, 1, 0])
    ce = [F.cross_entropy(layer_logits[j], labels).item() for j in range(3)]
    assert pabee_loss(layer_logits, labels).item() == pytest.approx(
        (1 * ce[0] + 2 * ce[1] + 3 * ce[2]) / 6)
    assert deebert_ramp_loss(layer_logits, labels).item() == pytest.approx(ce[0] + ce[1])


def test_exit_outputs_pick_each_examples_layer():
    layer_logits = torch.arange(12.0).reshape(3, 2, 2)
    assert exit_outputs(layer_logits, torch.tensor([2, 0])).tolist() == [[8.0, 9.0], [2.0, 3.0]]
