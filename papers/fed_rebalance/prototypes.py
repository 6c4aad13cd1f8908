"""Gradient prototypes: per-class mean of the analytic CE gradient of the classifier (RedGrape
Sec. 4.2) and their server-side averaging (Sec. 4.3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GradientPrototypes:
    """Per-class classifier gradients: ``weight[c]`` is (C, d), ``bias[c]`` is (C,), and
    ``present[c]`` says whether class c has a value."""

    weight: torch.Tensor
    bias: torch.Tensor
    present: torch.Tensor

    def to_arrays(self, prefix: str, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """The wire form: the rows of the present classes only (an absent class's row is zero
        and carries nothing), in ``dtype`` (float16 halves the bytes; lossy)."""
        return {
            f"{prefix}.weight": self.weight[self.present].to(dtype),
            f"{prefix}.bias": self.bias[self.present].to(dtype),
            f"{prefix}.present": self.present,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, torch.Tensor], prefix: str) -> GradientPrototypes | None:
        """Inverse of :meth:`to_arrays`: absent classes' rows back as zeros, in float32."""
        if f"{prefix}.weight" not in arrays:
            return None
        present = arrays[f"{prefix}.present"].bool()
        rows, bias_rows = arrays[f"{prefix}.weight"].float(), arrays[f"{prefix}.bias"].float()
        weight = rows.new_zeros((len(present), *rows.shape[1:]))
        bias = bias_rows.new_zeros((len(present), *bias_rows.shape[1:]))
        weight[present], bias[present] = rows, bias_rows
        return cls(weight, bias, present)


def ce_classifier_gradients(
    h: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample gradient of CE(Wh + b, y) w.r.t. W and b (RedGrape Eq. 4):
    dW = (softmax(Wh + b) - e_y) h^T (shape N x C x d), db = softmax(Wh + b) - e_y (N x C)."""
    err = torch.softmax(logits, dim=1)
    err[torch.arange(len(labels)), labels] -= 1.0
    return err.unsqueeze(2) * h.unsqueeze(1), err


def class_gradient_sums(
    h: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sums of the per-sample gradients of Eq. 4 per class (C x C x d, C x C) and class counts."""
    err = torch.softmax(logits, dim=1)
    err[torch.arange(len(labels)), labels] -= 1.0
    onehot = torch.nn.functional.one_hot(labels, num_classes).to(h.dtype)
    weight = torch.einsum("nc,nk,nd->ckd", onehot, err, h)
    return weight, onehot.T @ err, onehot.sum(0)


def prototypes_from_sums(
    weight: torch.Tensor, bias: torch.Tensor, counts: torch.Tensor
) -> GradientPrototypes:
    """Divide the per-class sums by the class counts: g_c = (1/n_c) sum_{y_i = c} grad_i."""
    denom = counts.clamp(min=1)
    return GradientPrototypes(weight / denom.view(-1, 1, 1), bias / denom.view(-1, 1), counts > 0)


def aggregate_prototypes(
    clients: list[GradientPrototypes], previous: GradientPrototypes | None
) -> GradientPrototypes:
    """Server step (RedGrape Sec. 4.3): per class, the unweighted mean over the clients that
    reported it; classes no client reported keep their ``previous`` value (or stay absent)."""
    present = torch.stack([p.present for p in clients]).float()
    n = present.sum(0)
    weight = torch.einsum("kc,kcjd->cjd", present, torch.stack([p.weight for p in clients]))
    bias = torch.einsum("kc,kcj->cj", present, torch.stack([p.bias for p in clients]))
    reported = n > 0
    weight = weight / n.clamp(min=1).view(-1, 1, 1)
    bias = bias / n.clamp(min=1).view(-1, 1)
    if previous is not None:
        keep = ~reported & previous.present
        weight[keep] = previous.weight[keep]
        bias[keep] = previous.bias[keep]
        reported = reported | previous.present
    return GradientPrototypes(weight, bias, reported)
