"""Scores, accuracy / speed-up curves and wall-clock timing of the cascade and the early-exit
baselines on one evaluation set.

Scores are GLUE's: accuracy, and for binary tasks the F1 of the positive class (MRPC). Every
method's point on a curve carries two speed-ups over the large model alone: the paper's layer
count and real FLOPs of the layers (and classifiers) each example ran, on its own token count
(:mod:`papers.cascadebert.cost`); and, where measured, wall-clock seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import Tensor, nn

from common.metrics import accuracy, expected_calibration_error
from papers.cascadebert.cost import head_flops, layer_flops
from papers.cascadebert.models import encoder_inputs, truncated


def glue_scores(probs: Tensor, labels: Tensor) -> dict[str, float]:
    """``acc``, and ``f1`` (of class 1, GLUE's MRPC/QQP F1) for a binary task."""
    out = {"acc": accuracy(probs, labels)}
    if probs.shape[-1] == 2:
        out["f1"] = float(f1_score(labels.numpy(), probs.argmax(-1).numpy(), zero_division=0))
    return out


@dataclass(frozen=True)
class Shape:
    """What the cost of a model depends on: depth, widths, classes."""

    layers: int
    hidden: int
    intermediate: int
    num_labels: int

    @classmethod
    def of(cls, model: nn.Module) -> Shape:
        config = model.encoder.config
        return cls(model.num_layers, config.hidden_size, config.intermediate_size,
                   model.head.classifier.out_features if hasattr(model, "head")
                   else model.heads[0].classifier.out_features)

    def flops(self, tokens: Tensor, layers: Tensor | int, exits: Tensor | int = 1) -> Tensor:
        """FLOPs per example of ``layers`` layers and ``exits`` classifiers on ``tokens``."""
        per_layer = layer_flops(tokens.double(), self.hidden, self.intermediate)
        return layers * per_layer + exits * head_flops(self.hidden, self.num_labels)


@dataclass
class Point:
    """One operating point of a method: scores, both speed-ups, ECE, seconds if timed."""

    method: str
    setting: str
    scores: dict[str, float]
    speedup_layers: float
    speedup_flops: float
    ece: float
    seconds: float | None = None

    def metrics(self) -> dict[str, float]:
        prefix = f"{self.method}/{self.setting}"
        out = {f"{prefix}/{k}": v for k, v in self.scores.items()}
        out |= {f"{prefix}/speedup_layers": self.speedup_layers,
                f"{prefix}/speedup_flops": self.speedup_flops, f"{prefix}/ece": self.ece}
        if self.seconds is not None:
            out[f"{prefix}/seconds"] = self.seconds
        return out


def point(method: str, setting: str, probs: Tensor, labels: Tensor, layers: Tensor,
          flops: Tensor, reference_layers: int, reference_flops: Tensor, bins: int) -> Point:
    """Scores of ``probs`` and the speed-ups of per-example ``layers`` / ``flops`` over a
    reference that runs ``reference_layers`` layers at ``reference_flops`` per example."""
    return Point(method, setting, glue_scores(probs, labels),
                 reference_layers * len(layers) / float(layers.double().sum()),
                 float(reference_flops.sum() / flops.sum()),
                 expected_calibration_error(probs, labels, bins))


def interpolate(points: Sequence[Point], speedup: float, key: str = "acc") -> float:
    """``key`` of a method's curve at ``speedup`` (layer count), linearly interpolated between
    its two neighbouring points; NaN outside the curve's range."""
    xs = np.array([p.speedup_layers for p in points])
    ys = np.array([p.scores[key] for p in points])
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    if not xs[0] <= speedup <= xs[-1]:
        return float("nan")
    return float(np.interp(speedup, xs, ys))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(run: Callable[[], object], device: torch.device, repeats: int = 1) -> float:
    """Best wall-clock seconds of ``repeats`` calls of ``run``."""
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        run()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


@torch.no_grad()
def forward_all(model: nn.Module, batches: Sequence[Mapping[str, Tensor]]) -> None:
    """Every batch through ``model`` (the work whose time is measured)."""
    for batch in batches:
        model(batch)


@torch.no_grad()
def forward_exits(model: nn.Module, batches_by_depth: Mapping[int, Sequence[Mapping[str, Tensor]]]
                  ) -> None:
    """An early-exit model's work when each example stops at its exit: the examples that exit
    after layer d run the first d layers and the classifiers of layers 1..d (batched per d)."""
    for depth, batches in batches_by_depth.items():
        with truncated(model.encoder, depth):
            for batch in batches:
                hidden = model.encoder(**encoder_inputs(batch),
                                       output_hidden_states=True).hidden_states
                for head, h in zip(model.heads[:depth], hidden[1:], strict=True):
                    head(h, batch["attention_mask"])
