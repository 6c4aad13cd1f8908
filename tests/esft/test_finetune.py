"""Fine-tuning pieces: answer-only labels, padding, LoRA's targets on the MoE, general ability
against a direct computation."""

from __future__ import annotations

import torch

from papers.esft.corpus import Example
from papers.esft.finetune import (
    IGNORE,
    collate,
    encode_example,
    general_ability,
    lora_targets,
    with_lora,
)


def test_the_loss_sees_the_answer_and_eos_only(tiny_moe):
    _, tok = tiny_moe
    row = encode_example(tok, Example("Question: 2 and 3?\nAnswer:", " 5"))
    prompt = tok("Question: 2 and 3?\nAnswer:", add_special_tokens=False)["input_ids"]
    assert row["input_ids"][: len(prompt)] == prompt
    assert row["labels"][: len(prompt)] == [IGNORE] * len(prompt)
    assert row["labels"][len(prompt):] == row["input_ids"][len(prompt):]
    assert row["labels"][-1] == tok.eos_token_id
    batch = collate(tok.pad_token_id, torch.device("cpu"))([row, {"input_ids": [1, 2],
                                                                  "labels": [1, 2]}])
    assert batch["attention_mask"][1].tolist() == [1, 1] + [0] * (len(row["input_ids"]) - 2)
    assert (batch["labels"][1, 2:] == IGNORE).all()


def test_lora_covers_every_linear_weight_and_the_fused_experts_but_not_the_head(tiny_moe):
    model, tok = tiny_moe
    linear, fused = lora_targets(model)
    assert "lm_head" not in linear and {"q_proj", "o_proj", "gate_proj", "down_proj"} <= set(linear)
    assert fused == ["experts.gate_up_proj", "experts.down_proj"]
    ids = torch.randint(0, 1000, (1, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base = model(ids).logits
    lora = with_lora(model, 4, 8)
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert any("experts" in n for n in trainable)
    assert not any("embed" in n or "lm_head" in n or "mlp.gate." in n for n in trainable)
    with torch.no_grad():
        assert torch.allclose(lora(ids).logits, base, atol=1e-6)


def test_general_ability_is_next_token_accuracy_and_loss(tiny_moe):
    model, _ = tiny_moe
    seqs = torch.randint(0, 1000, (5, 6), generator=torch.Generator().manual_seed(2))
    found = general_ability(model, {"a": seqs, "b": seqs[:2]}, batch_size=2)
    with torch.no_grad():
        logits = model(input_ids=seqs).logits[:, :-1]
    acc = float((logits.argmax(-1) == seqs[:, 1:]).float().mean())
    loss = float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                   seqs[:, 1:].reshape(-1)))
    assert abs(found["a/acc"] - acc) < 1e-6 and abs(found["a/loss"] - loss) < 1e-5
    assert abs(found["acc"] - (found["a/acc"] + found["b/acc"]) / 2) < 1e-9
