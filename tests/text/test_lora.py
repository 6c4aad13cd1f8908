"""PEFT (LoRA) on the language core's models: what the ESFT reproduction builds on."""

import peft
import pytest
import torch


@pytest.mark.parametrize(
    ("name", "targets"),
    [("tiny-llama", ["q_proj", "v_proj"]), ("tiny-deepseek-moe", "all-linear")],
)
def test_lora_wraps_a_tiny_model_and_trains_only_the_adapters(load_or_skip, name, targets):
    model, tok = load_or_skip(name)  # a fresh model: get_peft_model changes it in place
    ids = torch.tensor([tok("a tiny forward pass", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        base = model(ids).logits
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=targets, lora_dropout=0.0,
                             task_type="CAUSAL_LM")
    lora = peft.get_peft_model(model, config)
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    out = lora(input_ids=ids, labels=ids)
    # B starts at zero: the wrapped model computes the base model's function
    assert torch.allclose(out.logits, base, atol=1e-6)
    out.loss.backward()
    assert all(p.grad is not None for n, p in lora.named_parameters() if "lora_B" in n)
    assert all(p.grad is None for n, p in lora.named_parameters() if n not in trainable)
