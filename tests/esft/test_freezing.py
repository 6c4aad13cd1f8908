"""``to_esft``: exactly the selected experts train, everything else stays bit-identical through
an AdamW step with weight decay; the checkpoint holds only the trained experts and reloads to
the same logits."""

from __future__ import annotations

import copy

import pytest
import torch

from papers.esft.freezing import count_trainable, load_esft, merge, save_esft, to_esft

SELECTED = [2, 5]


def _batch():
    return torch.randint(0, 1000, (2, 12), generator=torch.Generator().manual_seed(0))


def test_only_the_selected_experts_get_gradients_and_move(tiny_moe):
    model, _ = tiny_moe
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = _batch()
    with torch.no_grad():
        base = model(ids).logits
    to_esft(model, {1: SELECTED})
    with torch.no_grad():
        assert torch.equal(model(ids).logits, base)  # the parametrisation changes nothing
    model.train()
    model(input_ids=ids, labels=ids).loss.backward()
    with_grad = sorted(n for n, p in model.named_parameters() if p.grad is not None)
    assert with_grad == ["model.layers.1.mlp.experts.parametrizations.down_proj.0.trained",
                         "model.layers.1.mlp.experts.parametrizations.gate_up_proj.0.trained"]
    experts = model.model.layers[1].mlp.experts
    assert count_trainable(model) == len(SELECTED) * (
        experts.gate_up_proj[0].numel() + experts.down_proj[0].numel())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2,
                                  weight_decay=0.1)
    optimizer.step()
    merge(model)
    after = model.state_dict()
    assert sorted(after) == sorted(before)
    others = [i for i in range(experts.num_experts) if i not in SELECTED]
    for key, value in before.items():
        if key.endswith(("experts.gate_up_proj", "experts.down_proj")) and ".1." in key:
            assert torch.equal(after[key][others], value[others]), key
            assert not torch.equal(after[key][SELECTED], value[SELECTED]), key
        else:
            assert torch.equal(after[key], value), key


def test_checkpoint_holds_only_the_trained_experts_and_reloads_the_logits(tiny_moe, tmp_path):
    model, _ = tiny_moe
    base = copy.deepcopy(model)
    to_esft(model, {1: SELECTED}, train_shared=True)
    ids = _batch()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    with torch.no_grad():
        tuned = model(ids).logits
    size = save_esft(model, tmp_path / "esft.safetensors")
    from safetensors.torch import load_file

    state = load_file(str(tmp_path / "esft.safetensors"))
    experts = model.model.layers[1].mlp.experts
    assert state["layers.1.experts.gate_up_proj.rows"].shape[0] == len(SELECTED)
    assert state["layers.1.experts.gate_up_proj.index"].tolist() == SELECTED
    assert {k.split(".")[2] for k in state} == {"experts", "shared_experts"}
    shared = sum(p.numel() for p in model.model.layers[1].mlp.shared_experts.parameters())
    stored = sum(v.numel() for k, v in state.items() if not k.endswith("index"))
    assert stored == len(SELECTED) * (experts.gate_up_proj[0].numel() +
                                      experts.down_proj[0].numel()) + shared
    assert size < sum(p.numel() for p in base.parameters()) * 4 / 10
    reloaded = load_esft(base, tmp_path / "esft.safetensors")
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, tuned)


def test_the_expert_index_lives_with_the_weights_and_reloading_needs_a_plain_model(tiny_moe,
                                                                                 tmp_path):
    model, _ = tiny_moe
    to_esft(model, {1: SELECTED})
    rows = model.model.layers[1].mlp.experts.parametrizations.gate_up_proj[0]
    assert "experts" in dict(rows.named_buffers())  # moved by model.to(device)
    assert rows.experts.device == rows.trained.device
    save_esft(model, tmp_path / "e.safetensors")
    with pytest.raises(ValueError, match="parametrised"):
        load_esft(model, tmp_path / "e.safetensors")


def test_the_balance_loss_reaches_the_router(tiny_moe):
    from papers.esft.backbone import lm_and_balance_loss

    model, _ = tiny_moe
    model.train()
    ids = _batch()
    loss, logs = lm_and_balance_loss(1.0)(model, ids)
    parts = float(logs["train/lm_loss"] + logs["train/balance"])
    assert float(loss.detach()) == pytest.approx(parts)
    loss.backward()
    assert model.model.layers[1].mlp.gate.weight.grad.abs().sum() > 0
