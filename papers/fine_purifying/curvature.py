"""Curvature of the clean loss per parameter dimension, on the defender's small clean set
(Sec. 3 of Zhang et al.: the Hessian H_i of each dimension, which diffusion theory relates to
how far fine-tuning on clean data moves that dimension).

* ``fisher``: the diagonal of the empirical Fisher information, the mean over clean examples of
  the squared per-example gradient of the cross-entropy, a standard stand-in for diag(H) near a
  minimum; per-example gradients by ``torch.func`` (``vmap(grad(.))``) or a plain loop
  (:func:`fisher_diagonal_loop`, the reference);
* ``hutchinson``: E_z[z * (H z)] with Rademacher z, the exact Hessian's diagonal in expectation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

Batch = Mapping[str, Tensor]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _inputs(batch: Batch) -> dict[str, Tensor]:
    return {k: batch[k] for k in INPUTS if k in batch}


@contextmanager
def _eval_eager(model: nn.Module) -> Iterator[None]:
    """Evaluation mode and eager attention (differentiable twice, and it takes a prepared
    additive mask without branching on data under ``vmap``), restored afterwards."""
    was_training = model.training
    config = getattr(model, "config", None)
    attention = getattr(config, "_attn_implementation", None)
    model.eval()
    if attention not in (None, "eager"):
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.train(was_training)
        if attention not in (None, "eager"):
            model.set_attn_implementation(attention)


def fisher_diagonal(model: nn.Module, batches: Iterable[Batch], names: Iterable[str],
                    chunk: int = 8) -> dict[str, Tensor]:
    """Mean over examples of squared per-example gradients of the CE loss w.r.t. the named
    parameters (others held fixed), vectorised with ``torch.func`` in chunks of ``chunk``."""
    names = list(names)
    params = dict(model.named_parameters())
    trained = {n: params[n].detach() for n in names}
    fixed = {n: p.detach() for n, p in params.items() if n not in trained}
    fixed.update(dict(model.named_buffers()))

    def loss(p: dict[str, Tensor], inputs: dict[str, Tensor], label: Tensor) -> Tensor:
        one = {k: v.unsqueeze(0) for k, v in inputs.items()}
        if "attention_mask" in one:  # a prepared additive mask: no data-dependent branch in vmap
            keep = one["attention_mask"][:, None, None, :].to(torch.float32)
            one["attention_mask"] = (1.0 - keep) * torch.finfo(torch.float32).min
        logits = functional_call(model, {**fixed, **p}, args=(), kwargs=one).logits
        return F.cross_entropy(logits, label.unsqueeze(0))

    per_example = vmap(grad(loss), in_dims=(None, 0, 0))
    total = {n: torch.zeros_like(p) for n, p in trained.items()}
    count = 0
    with _eval_eager(model):
        for batch in batches:
            inputs, labels = _inputs(batch), batch["labels"]
            for start in range(0, len(labels), chunk):
                part = {k: v[start:start + chunk] for k, v in inputs.items()}
                grads = per_example(trained, part, labels[start:start + chunk])
                for n, g in grads.items():
                    total[n] += g.pow(2).sum(0)
                count += len(labels[start:start + chunk])
    return {n: t / count for n, t in total.items()}


def fisher_diagonal_loop(model: nn.Module, batches: Iterable[Batch],
                         names: Iterable[str]) -> dict[str, Tensor]:
    """The same quantity one example at a time with ``backward`` (the reference)."""
    names = list(names)
    params = dict(model.named_parameters())
    total = {n: torch.zeros_like(params[n]) for n in names}
    count = 0
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            inputs, labels = _inputs(batch), batch["labels"]
            for i in range(len(labels)):
                model.zero_grad(set_to_none=True)
                logits = model(**{k: v[i:i + 1] for k, v in inputs.items()}).logits
                F.cross_entropy(logits, labels[i:i + 1]).backward()
                for n in names:
                    if params[n].grad is not None:
                        total[n] += params[n].grad.pow(2)
                count += 1
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return {n: t / count for n, t in total.items()}


def hutchinson_diagonal(model: nn.Module, batches: Iterable[Batch], names: Iterable[str],
                        samples: int, generator: torch.Generator) -> dict[str, Tensor]:
    """diag(H) of the mean clean CE ~ (1/S) sum_s z_s * (H z_s), z_s Rademacher (per batch)."""
    names = list(names)
    params = dict(model.named_parameters())
    chosen = [params[n] for n in names]
    total = [torch.zeros_like(p) for p in chosen]
    batches = list(batches)
    with _eval_eager(model):
        for batch in batches:
            logits = model(**_inputs(batch)).logits
            loss = F.cross_entropy(logits, batch["labels"])
            grads = torch.autograd.grad(loss, chosen, create_graph=True)
            for _ in range(samples):
                zs = [torch.randint(0, 2, p.shape, generator=generator).to(p) * 2 - 1
                      for p in chosen]
                hz = torch.autograd.grad(grads, chosen, zs, retain_graph=True)
                for t, z, h in zip(total, zs, hz, strict=True):
                    t += z * h
    scale = 1.0 / (samples * len(batches))
    return {n: t * scale for n, t in zip(names, total, strict=True)}
