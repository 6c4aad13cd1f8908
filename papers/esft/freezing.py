"""ESFT's training configuration (§3.2 "Selective parameter efficient fine-tuning"): only the
selected routed experts' FFN weights train; the router, attention, embeddings, norms, the LM
head, shared experts and every other expert stay frozen, so routing is unchanged.

transformers stores a layer's routed experts fused (``experts.gate_up_proj`` [E, 2I, H],
``experts.down_proj`` [E, H, I]). A gradient mask on those tensors would still let AdamW's
weight decay move the frozen experts, so instead each fused tensor is parametrised: the original
is frozen and the selected rows come from a separate trainable parameter of shape [n, ...]
(``ExpertRows``). The optimizer sees only those rows; everything else is bit-identical.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.nn.utils import parametrize

from papers.esft.routing import decoder_layers

EXPERT_TENSORS = ("gate_up_proj", "down_proj")


class ExpertRows(nn.Module):
    """A parametrisation of a fused expert tensor: rows ``experts`` come from ``trained``."""

    def __init__(self, full: Tensor, experts: list[int]):
        super().__init__()
        self.register_buffer("experts", torch.tensor(experts, dtype=torch.long,
                                                     device=full.device), persistent=True)
        self.trained = nn.Parameter(full.detach()[self.experts].clone())

    def forward(self, original: Tensor) -> Tensor:
        return original.index_copy(0, self.experts, self.trained)


def to_esft(model: nn.Module, selection: dict[int, list[int]], train_shared: bool = False
            ) -> nn.Module:
    """Freeze ``model`` except the experts ``selection[layer]`` of each MoE layer (and, for the
    ablation, the shared experts); in place, returns the model."""
    for p in model.parameters():
        p.requires_grad_(False)
    layers = decoder_layers(model)
    for layer, experts in selection.items():
        moe = layers[layer].mlp
        if experts:
            for name in EXPERT_TENSORS:
                parametrize.register_parametrization(
                    moe.experts, name, ExpertRows(getattr(moe.experts, name), experts),
                    unsafe=True)
                getattr(moe.experts.parametrizations, name).original.requires_grad_(False)
        if train_shared:
            for p in moe.shared_experts.parameters():
                p.requires_grad_(True)
    return model


def trained_state(model: nn.Module) -> dict[str, Tensor]:
    """What an ESFT checkpoint stores: the trained expert rows with their indices, plus any
    other trainable tensor (the shared experts of the ablation); nothing frozen."""
    state: dict[str, Tensor] = {}
    for i, layer in enumerate(decoder_layers(model)):
        experts = getattr(layer.mlp, "experts", None)
        if experts is not None and parametrize.is_parametrized(experts):
            for name in EXPERT_TENSORS:
                rows = getattr(experts.parametrizations, name)[0]
                state[f"layers.{i}.experts.{name}.rows"] = rows.trained.detach().cpu()
                state[f"layers.{i}.experts.{name}.index"] = rows.experts.cpu()
        shared = getattr(layer.mlp, "shared_experts", None)
        if shared is not None:
            for name, p in shared.named_parameters():
                if p.requires_grad:
                    state[f"layers.{i}.shared_experts.{name}"] = p.detach().cpu()
    return state


def save_esft(model: nn.Module, path: Path) -> int:
    """Write :func:`trained_state` as safetensors; returns the file's size in bytes."""
    save_file({k: v.contiguous() for k, v in trained_state(model).items()}, str(path))
    return path.stat().st_size


@torch.no_grad()
def load_esft(model: nn.Module, path: Path) -> nn.Module:
    """Write a saved ESFT checkpoint into a plain (unparametrised) copy of the base model."""
    state = load_file(str(path))
    layers = decoder_layers(model)
    if any(parametrize.is_parametrized(m) for m in model.modules()):
        raise ValueError("load_esft writes into a plain base model; this one is parametrised "
                         "(to_esft was applied): merge() it or load a fresh base model")
    for key, value in state.items():
        parts = key.split(".")
        layer = layers[int(parts[1])].mlp
        if parts[2] == "experts" and parts[-1] == "rows":
            index = state[key[: -len("rows")] + "index"]
            target = getattr(layer.experts, parts[3])
            target[index] = value.to(target.dtype).to(target.device)
        elif parts[2] == "shared_experts":
            dict(layer.shared_experts.named_parameters())[".".join(parts[3:])].copy_(value)
    return model


def merge(model: nn.Module) -> nn.Module:
    """Fold the trained rows back into plain fused tensors (a model like the base one)."""
    for layer in decoder_layers(model):
        experts = getattr(layer.mlp, "experts", None)
        if experts is not None and parametrize.is_parametrized(experts):
            for name in EXPERT_TENSORS:
                parametrize.remove_parametrizations(experts, name, leave_parametrized=True)
    return model


def count_trainable(model: nn.Module) -> int:
    """Parameters the optimizer updates."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
