"""Fine-pruning (Liu et al., RAID 2018), the baseline adapted to Transformers as in the
backdoor-defence literature: the feed-forward neurons of the last ``layers`` encoder layers
least active on clean data are pruned (their input rows and output columns zeroed and kept at
zero), then the model is fine-tuned on the clean set."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn


def ffn_layers(model: nn.Module) -> list[nn.Module]:
    """The encoder layers of a BERT-like model (each with ``intermediate`` and ``output``)."""
    return list(model.base_model.encoder.layer)


@torch.no_grad()
def mean_activations(model: nn.Module, batches: Iterable[Mapping[str, Tensor]],
                     layers: list[nn.Module]) -> list[Tensor]:
    """Mean post-activation of every FFN neuron over the clean set's real (unpadded) tokens."""
    sums = [torch.zeros(layer.intermediate.dense.out_features) for layer in layers]
    count = torch.zeros(())
    mask_now: list[Tensor] = []

    def hook(index: int):
        def record(_module, _inputs, output: Tensor) -> None:
            mask = mask_now[0].unsqueeze(-1).to(output.dtype)
            sums[index] += (output * mask).sum((0, 1)).cpu()
        return record

    handles = [layer.intermediate.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            mask_now[:] = [batch["attention_mask"]]
            count += batch["attention_mask"].sum()
            model(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")
                     if k in batch})
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return [s / count for s in sums]


def prune(layers: list[nn.Module], activations: list[Tensor], ratio: float
          ) -> list[torch.utils.hooks.RemovableHandle]:
    """Zero the ``ratio`` least active neurons of each layer; gradient hooks keep them at zero
    during the fine-tuning that follows (returned, to remove afterwards)."""
    handles = []
    for layer, act in zip(layers, activations, strict=True):
        k = round(ratio * len(act))
        pruned = torch.zeros(len(act), dtype=torch.bool)
        pruned[torch.topk(act, k, largest=False).indices] = True
        dense_in, dense_out = layer.intermediate.dense, layer.output.dense
        with torch.no_grad():
            dense_in.weight[pruned.to(dense_in.weight.device)] = 0
            dense_in.bias[pruned.to(dense_in.bias.device)] = 0
            dense_out.weight[:, pruned.to(dense_out.weight.device)] = 0
        keep_in = (~pruned).to(dense_in.weight.dtype).to(dense_in.weight.device)
        handles += [dense_in.weight.register_hook(lambda g, m=keep_in: g * m.unsqueeze(-1)),
                    dense_in.bias.register_hook(lambda g, m=keep_in: g * m),
                    dense_out.weight.register_hook(lambda g, m=keep_in: g * m.unsqueeze(0))]
    return handles
