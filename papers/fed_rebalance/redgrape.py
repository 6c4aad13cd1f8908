"""RedGrape's client update (Sec. 4.4, Algorithm 1): local real data on a balanced subset plus the
global gradient prototypes of missing classes re-balance the classifier every batch."""

from __future__ import annotations

import torch

from common.training import Callback, Trainer
from papers.fed_rebalance.federated import Arrays, ClientData, ClientEnv, ClientReply, FedMethod
from papers.fed_rebalance.local import FedNet
from papers.fed_rebalance.prototypes import (
    GradientPrototypes,
    aggregate_prototypes,
    class_gradient_sums,
    prototypes_from_sums,
)

Grad = tuple[torch.Tensor, torch.Tensor]
PROTO = "proto"
OWN_SUPPLEMENTARY = "own_supplementary"


@torch.no_grad()
def client_prototypes(
    model: FedNet, data: ClientData, env: ClientEnv, batch_size: int = 500
) -> GradientPrototypes:
    """Gradient prototypes of the received global model on all local data (Sec. 4.2): eval mode,
    no augmentation, logits W h(x) of the main classifier only."""
    model.eval()
    c = env.num_classes
    d = model.classifier.in_features
    weight = torch.zeros(c, c, d, device=env.prep.device)
    bias = torch.zeros(c, c, device=env.prep.device)
    counts = torch.zeros(c, device=env.prep.device)
    for start in range(0, len(data.y), batch_size):
        x = env.prep(data.x[start : start + batch_size])
        y = data.y[start : start + batch_size].to(env.prep.device)
        h = model.features(x)
        w, b, n = class_gradient_sums(h, model.classifier(h), y, c)
        weight += w
        bias += b
        counts += n
    return prototypes_from_sums(weight, bias, counts)


def balanced_subset(
    y: torch.Tensor, per_class: int | None, num_classes: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The local balanced real set (Sec. 4.4): every class with at least T samples gives T random
    samples. Returns (indices, mask of those classes); T = None ('T = inf' ablation) gives none."""
    mask = torch.zeros(num_classes, dtype=torch.bool)
    if per_class is None:
        return torch.zeros(0, dtype=torch.long), mask
    chosen = []
    for c in range(num_classes):
        idx = torch.nonzero(y == c).flatten()
        if len(idx) >= per_class:
            mask[c] = True
            chosen.append(idx[torch.randperm(len(idx), generator=generator)[:per_class]])
    return (torch.cat(chosen) if chosen else torch.zeros(0, dtype=torch.long)), mask


def missing_class_mean(protos: GradientPrototypes, local_mask: torch.Tensor) -> Grad | None:
    """Mean of the global prototypes over the classes the client lacks (and the server knows)."""
    missing = protos.present & ~local_mask.to(protos.present.device)
    if not missing.any():
        return None
    return protos.weight[missing].mean(0), protos.bias[missing].mean(0)


def combine_balanced_gradient(
    g_real: Grad | None, n_local: int, g_missing: Grad | None, num_classes: int
) -> Grad | None:
    """g_bal = (g_real * n_local + g_missing * (C - n_local)) / C (Eq. 7); with no missing class
    g_bal = g_real, with no local balanced class g_bal = g_missing (as in the official trainer)."""
    if g_real is None:
        return g_missing
    if g_missing is None:
        return g_real
    return tuple(
        (r * n_local + m * (num_classes - n_local)) / num_classes
        for r, m in zip(g_real, g_missing, strict=True)
    )


def rescale_to_norm(g: Grad, reference: Grad, eps: float = 1e-12) -> Grad:
    """Scale each tensor of g to the norm of the matching reference tensor (Sec. 4.4): the
    correction gets the magnitude of the main loss's gradient on W and on b."""
    return tuple(
        gi * (ri.norm() / gi.norm().clamp(min=eps)) for gi, ri in zip(g, reference, strict=True)
    )


class ClassifierCorrection(Callback):
    """RedGrape's per-batch correction as a Trainer callback: g_real on the balanced real set ->
    g_bal (Eq. 7) before the backward pass -> rescaled to the main gradient's norm after it ->
    (clip, step) -> W <- W - lr * lambda * g_bal (Eq. 8), lr the optimizer's current one."""

    def __init__(
        self,
        bal_x: torch.Tensor,
        bal_y: torch.Tensor,
        n_local: int,
        g_missing: Grad | None,
        num_classes: int,
        lam: float,
    ):
        self.bal_x, self.bal_y = bal_x, bal_y
        self.n_local, self.g_missing = n_local, g_missing
        self.num_classes, self.lam = num_classes, lam
        self.g: Grad | None = None

    def real_gradient(self, model: FedNet) -> Grad | None:
        """grad_W CE(W h(x).detach(), y) on the balanced real set (backbone in train mode)."""
        if len(self.bal_y) == 0:
            return None
        with torch.no_grad():
            h = model.features(self.bal_x)
        loss = torch.nn.functional.cross_entropy(model.classifier(h), self.bal_y)
        w, b = torch.autograd.grad(loss, [model.classifier.weight, model.classifier.bias])
        return w, b

    def before_backward(self, trainer: Trainer, loss: torch.Tensor) -> None:
        g_real = self.real_gradient(trainer.model)
        self.g = combine_balanced_gradient(g_real, self.n_local, self.g_missing, self.num_classes)

    def after_backward(self, trainer: Trainer) -> None:
        if self.g is not None:
            classifier = trainer.model.classifier
            self.g = rescale_to_norm(self.g, (classifier.weight.grad, classifier.bias.grad))

    @torch.no_grad()
    def after_step(self, trainer: Trainer) -> None:
        if self.g is not None:
            lr = trainer.optimizer.param_groups[0]["lr"]
            classifier = trainer.model.classifier
            classifier.weight -= lr * self.lam * self.g[0]
            classifier.bias -= lr * self.lam * self.g[1]


class RedGrape(FedMethod):
    """RedGrape (Yang et al., 2023). ``per_class`` is T (None = the 'T = inf' ablation),
    ``supplementary`` toggles W_hat, ``aggregate_supplementary`` averages W_hat on the server
    instead of keeping one per client."""

    def __init__(
        self,
        lam: float = 0.1,
        per_class: int | None = 8,
        supplementary: bool = True,
        aggregate_supplementary: bool = False,
    ):
        self.lam = lam
        self.per_class = per_class
        self.supplementary = supplementary
        self.aggregate_supplementary = aggregate_supplementary
        self.prototypes: GradientPrototypes | None = None
        self.client_supplementary: dict[int, Arrays] = {}

    def broadcast(self, client_id: int) -> Arrays:
        out = self.prototypes.to_arrays(PROTO) if self.prototypes is not None else {}
        own = self.client_supplementary.get(client_id)
        if own is not None and not self.aggregate_supplementary:
            out |= {f"{OWN_SUPPLEMENTARY}.{k}": v for k, v in own.items()}
        return out

    def client_update(
        self, model: FedNet, data: ClientData, arrays: Arrays, env: ClientEnv
    ) -> tuple[Arrays, float]:
        if model.supplementary is not None and f"{OWN_SUPPLEMENTARY}.weight" in arrays:
            model.supplementary.weight.data.copy_(arrays[f"{OWN_SUPPLEMENTARY}.weight"])
            model.supplementary.bias.data.copy_(arrays[f"{OWN_SUPPLEMENTARY}.bias"])
        own = client_prototypes(model, data, env)
        protos = GradientPrototypes.from_arrays(arrays, PROTO)
        callbacks = []
        if protos is not None:
            protos = GradientPrototypes(
                protos.weight.to(env.prep.device), protos.bias.to(env.prep.device), protos.present
            )
            idx, mask = balanced_subset(data.y, self.per_class, env.num_classes, env.generator)
            bal_x = env.prep(data.x[idx], env.generator if env.local.batches.augment else None)
            bal_y = data.y[idx].to(env.prep.device)
            g_missing = missing_class_mean(protos, mask)
            callbacks.append(ClassifierCorrection(bal_x, bal_y, int(mask.sum()), g_missing,
                                                  env.num_classes, self.lam))
        loss = env.train(model, data, callbacks=callbacks)
        return own.to_arrays(PROTO), loss

    def server_update(self, model: FedNet, replies: list[tuple[int, ClientReply]]) -> None:
        """Average the reported prototypes per class (Sec. 4.3); remember each client's W_hat."""
        reported = [GradientPrototypes.from_arrays(r.arrays, PROTO) for _, r in replies]
        self.prototypes = aggregate_prototypes(
            [p for p in reported if p is not None], self.prototypes
        )
        if self.supplementary and not self.aggregate_supplementary:
            for cid, r in replies:
                self.client_supplementary[cid] = {
                    "weight": r.state["supplementary.weight"],
                    "bias": r.state["supplementary.bias"],
                }
