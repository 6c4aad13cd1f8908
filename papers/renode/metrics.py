"""Weighted and macro F1, the two numbers ReNode reports (Chen et al. 2021, Sec. 4.1).

A torch implementation of scikit-learn's ``f1_score(average="weighted" | "macro")`` (labels = the
union of true and predicted classes, zero division scored 0), so the per-epoch validation check
costs microseconds instead of a scikit-learn call.
"""

from __future__ import annotations

import torch


def f1_scores(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> dict[str, float]:
    """``{"weighted_f1": ..., "macro_f1": ...}`` of predicted against true class ids."""
    pred, target = pred.long().cpu(), target.long().cpu()
    support = torch.bincount(target, minlength=num_classes).double()
    predicted = torch.bincount(pred, minlength=num_classes).double()
    hits = torch.bincount(target[pred == target], minlength=num_classes).double()
    denom = support + predicted
    f1 = torch.where(denom > 0, 2.0 * hits / denom.clamp_min(1.0), torch.zeros_like(denom))
    present = denom > 0
    weighted = (f1 * support).sum() / support.sum()
    macro = f1[present].mean()
    return {"weighted_f1": weighted.item(), "macro_f1": macro.item()}
