"""The FLOPs formula against torch's own FLOP counter on a real BERT layer."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertLayer

from papers.cascadebert.cost import head_flops, layer_flops, model_flops


@pytest.mark.parametrize("tokens", [7, 32])
def test_layer_flops_match_the_flop_counter(tokens):
    config = BertConfig(hidden_size=64, intermediate_size=96, num_attention_heads=4,
                        attn_implementation="eager")
    layer = BertLayer(config).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(torch.randn(1, tokens, 64))
    assert counter.get_total_flops() == layer_flops(tokens, 64, 96)


def test_head_and_model_flops():
    assert head_flops(4, 2) == 2 * 16 + 2 * 8
    assert model_flops(5, layers=2, hidden=4, intermediate=8, num_labels=2, exits=3) == (
        2 * layer_flops(5, 4, 8) + 3 * head_flops(4, 2))
    per_example = layer_flops(torch.tensor([3, 5]), 4, 8)
    assert per_example.tolist() == [layer_flops(3, 4, 8), layer_flops(5, 4, 8)]
