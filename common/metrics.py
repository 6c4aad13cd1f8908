"""Evaluation metrics every paper shares, in torch, each tested against scikit-learn.

One convention for tables: :func:`mean_std` reports the sample standard deviation (``ddof=1``);
a paper whose official script uses the population std passes ``ddof=0`` and says so.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


def _labels(pred_or_logits: Tensor) -> Tensor:
    return pred_or_logits.argmax(-1) if pred_or_logits.is_floating_point() else pred_or_logits


def accuracy(pred_or_logits: Tensor, target: Tensor) -> float:
    """Fraction of rows whose predicted class (argmax of logits, or the given ids) is right."""
    return float((_labels(pred_or_logits).long() == target.long()).float().mean())


def f1_scores(pred_or_logits: Tensor, target: Tensor, num_classes: int | None = None
              ) -> dict[str, float]:
    """``{"weighted_f1", "macro_f1"}`` as scikit-learn's ``f1_score(average=...)``: the labels
    are the union of true and predicted classes, a class with no true and no predicted row is
    left out, zero division scores 0. Bincounts, so a per-epoch check costs microseconds."""
    pred, target = _labels(pred_or_logits).long().cpu(), target.long().cpu()
    k = num_classes or int(max(pred.max(), target.max())) + 1
    support = torch.bincount(target, minlength=k).double()
    predicted = torch.bincount(pred, minlength=k).double()
    hits = torch.bincount(target[pred == target], minlength=k).double()
    denom = support + predicted
    f1 = torch.where(denom > 0, 2.0 * hits / denom.clamp_min(1.0), torch.zeros_like(denom))
    weighted = (f1 * support).sum() / support.sum()
    return {"weighted_f1": weighted.item(), "macro_f1": f1[denom > 0].mean().item()}


def expected_calibration_error(probs: Tensor, target: Tensor, num_bins: int = 10) -> float:
    """ECE (Guo et al. 2017, Eq. 3; Naeini et al. 2015): confidences max_k p_k in ``num_bins``
    equal-width bins (lo, hi], ECE = sum_b |B_b| / n · |acc(B_b) - conf(B_b)|."""
    conf, pred = probs.float().max(-1)
    correct = (pred == target).float()
    edges = torch.linspace(0, 1, num_bins + 1, dtype=conf.dtype)
    bins = torch.bucketize(conf, edges[1:-1], right=False)
    n = conf.numel()
    conf_sum = torch.bincount(bins, weights=conf.double(), minlength=num_bins)
    acc_sum = torch.bincount(bins, weights=correct.double(), minlength=num_bins)
    return float((conf_sum - acc_sum).abs().sum() / n)


def auroc(scores: Tensor, target: Tensor) -> float:
    """Binary ROC AUC as the Mann-Whitney U statistic with average ranks for ties (equal to
    scikit-learn's ``roc_auc_score``); ``target`` is 1 for positives."""
    scores, target = scores.double().flatten().cpu(), target.flatten().bool().cpu()
    pos, neg = int(target.sum()), int((~target).sum())
    if pos == 0 or neg == 0:
        raise ValueError("auroc needs at least one positive and one negative")
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, scores.numel() + 1, dtype=scores.dtype)
    _, inverse, counts = torch.unique_consecutive(sorted_scores, return_inverse=True,
                                                  return_counts=True)
    ends = counts.cumsum(0).double()
    average = ends - (counts.double() - 1) / 2
    ranks[order] = average[inverse]
    u = ranks[target].sum() - pos * (pos + 1) / 2
    return float(u / (pos * neg))


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation (Rajpurkar et al. 2016): lower-case, drop punctuation and
    the articles a / an / the, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(predictions: Sequence[str], references: Sequence[str],
                normalize: bool = True) -> float:
    """Fraction of predictions equal to their reference (after :func:`normalize_answer`)."""
    if len(predictions) != len(references):
        raise ValueError("exact_match: predictions and references differ in length")
    norm = normalize_answer if normalize else (lambda s: s)
    hits = sum(norm(p) == norm(r) for p, r in zip(predictions, references, strict=True))
    return hits / max(len(references), 1)


def mean_std(values: Sequence[float], ddof: int = 1) -> tuple[float, float]:
    """Mean and standard deviation (sample std, ``ddof=1``, by default; 0 for one value)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("mean_std of no values")
    std = float(arr.std(ddof=ddof)) if arr.size > ddof else 0.0
    return float(arr.mean()), std
