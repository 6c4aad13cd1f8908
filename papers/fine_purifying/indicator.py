"""Which dimensions to purify (Sec. 3 of Zhang et al., Findings of ACL 2023) and the reset.

Diffusion theory of fine-tuning: on the clean loss near the pre-trained point, SGD moves a
dimension i like a diffusion whose gradient-noise variance is proportional to its curvature
H_i, so in the diffusion-dominated regime the expected squared drift grows as
E[delta_i^2] ~ H_i * t: clean dimensions drift in proportion to their clean curvature. A
poisonous dimension is driven by the poisoned data instead: a drift too large for its clean
curvature. The indicator is therefore the ratio delta_i^2 / H_i (default ``diffusion``); the
options ``drift`` (|delta_i| alone) and ``random`` (a random ranking: Fine-mixing's mix) are
the ablations. The top-rho fraction by indicator is reset to the pre-trained value, ranked over
all purified parameters at once (``global``, our default) or within each tensor.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

INDICATORS = ("diffusion", "drift", "random")
SCOPES = ("global", "per_tensor")


def drift(finetuned: Mapping[str, Tensor], pretrained: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """delta_i = w^FT_i - w^Pre_i for every named tensor of ``pretrained``."""
    return {n: finetuned[n].detach() - pretrained[n] for n in pretrained}


def indicator(kind: str, delta: Mapping[str, Tensor], curvature: Mapping[str, Tensor] | None,
              eps: float = 1e-8, generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Per-dimension scores, larger = more suspicious: ``diffusion`` delta^2 / (H + eps * mean H)
    (eps relative to the mean curvature, so the scale of H does not matter), ``drift`` delta^2,
    ``random`` uniform noise."""
    if kind not in INDICATORS:
        raise ValueError(f"indicator {kind!r}: choose one of {INDICATORS}")
    if kind == "random":
        return {n: torch.rand(d.shape, generator=generator).to(d) for n, d in delta.items()}
    if kind == "drift":
        return {n: d.pow(2) for n, d in delta.items()}
    if curvature is None:
        raise ValueError("the diffusion indicator needs the clean curvature")
    mean_h = torch.cat([h.flatten() for h in curvature.values()]).abs().mean()
    floor = eps * float(mean_h) if float(mean_h) > 0 else eps
    return {n: d.pow(2) / (curvature[n].abs() + floor) for n, d in delta.items()}


def top_fraction(scores: Mapping[str, Tensor], rho: float, scope: str = "global"
                 ) -> dict[str, Tensor]:
    """Boolean masks of the ``round(rho * n)`` highest scores, over all tensors together
    (``global``) or ``round(rho * n_t)`` within each tensor (``per_tensor``)."""
    if not 0 <= rho <= 1:
        raise ValueError(f"rho {rho} is not in [0, 1]")
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r}: choose one of {SCOPES}")
    if scope == "per_tensor":
        return {n: _top_mask(s.flatten(), round(rho * s.numel())).view_as(s)
                for n, s in scores.items()}
    flat = torch.cat([s.flatten() for s in scores.values()])
    mask = _top_mask(flat, round(rho * flat.numel()))
    out, start = {}, 0
    for n, s in scores.items():
        out[n] = mask[start:start + s.numel()].view_as(s)
        start += s.numel()
    return out


def _top_mask(values: Tensor, k: int) -> Tensor:
    mask = torch.zeros_like(values, dtype=torch.bool)
    if k > 0:
        mask[torch.topk(values, k, sorted=False).indices] = True
    return mask


@torch.no_grad()
def reset(model: torch.nn.Module, pretrained: Mapping[str, Tensor],
          masks: Mapping[str, Tensor]) -> int:
    """Set the masked dimensions of the named parameters back to w^Pre; returns how many."""
    params = dict(model.named_parameters())
    count = 0
    for n, mask in masks.items():
        params[n].data[mask] = pretrained[n].to(params[n].device)[mask]
        count += int(mask.sum())
    return count
