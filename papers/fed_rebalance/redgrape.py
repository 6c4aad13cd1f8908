"""RedGrape's client update (Sec. 4.4, Algorithm 1): local real data on a balanced subset plus the
global gradient prototypes of missing classes re-balance the classifier every batch."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from common.params import check_choice
from common.training import Callback, Trainer
from papers.fed_rebalance.federated import Arrays, ClientData, ClientEnv, ClientReply, FedMethod
from papers.fed_rebalance.local import Batch, FedNet
from papers.fed_rebalance.prototypes import (
    GradientPrototypes,
    aggregate_prototypes,
    class_gradient_sums,
    prototypes_from_sums,
)

Grad = tuple[torch.Tensor, torch.Tensor]
PROTO = "proto"
OWN_SUPPLEMENTARY = "own_supplementary"
PROTOTYPES_FROM = ("received_model", "local_pass")
REAL_GRADIENT_FROM = ("balanced_set", "batch")
PROTO_DTYPES = {"float32": torch.float32, "float16": torch.float16}


ClassSums = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class Forward:
    """What the local pass's forward of the current batch computed, kept for the callbacks that
    reuse it instead of running their own forward: features h (detached), main-classifier logits
    W h (detached), labels, and their class sums of Eq. 4 once a callback asked for them."""

    h: torch.Tensor
    logits: torch.Tensor
    y: torch.Tensor
    _sums: ClassSums | None = field(default=None, repr=False)

    def class_sums(self, num_classes: int) -> ClassSums:
        """:func:`class_gradient_sums` of this batch, computed once however many callbacks use
        it."""
        if self._sums is None:
            self._sums = class_gradient_sums(self.h, self.logits, self.y, num_classes)
        return self._sums


class RecordingLoss:
    """CE on the training logits (W + W_hat) h, as ``local.cross_entropy_loss``, that also keeps
    the batch's h and W h in ``self.forward`` (``FedNet.train_forward``: one forward, shared)."""

    forward: Forward

    def __call__(self, model: FedNet, batch: Batch) -> torch.Tensor:
        x, y = batch
        h, logits, train_logits = model.train_forward(x)
        self.forward = Forward(h.detach(), logits.detach(), y)
        return torch.nn.functional.cross_entropy(train_logits, y)


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


def balanced_batch_gradient(sums: ClassSums, local_mask: torch.Tensor) -> Grad | None:
    """The ``real_gradient_from=batch`` variant of g_real: grad_(W, b) of the class-balanced CE
    of the batch's samples whose class is in ``local_mask``, i.e. the mean over those classes
    present in the batch of their class-mean gradients (Eq. 4), from the batch's class ``sums``
    (:func:`class_gradient_sums`). None when the batch holds no such class."""
    protos = prototypes_from_sums(*sums)
    use = protos.present & local_mask.to(protos.present.device)
    if not use.any():
        return None
    return protos.weight[use].mean(0), protos.bias[use].mean(0)


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
        local_mask: torch.Tensor | None = None,
        loss: RecordingLoss | None = None,
    ):
        """With ``loss`` (and the balanced classes' ``local_mask``), g_real comes from the
        batch the loss just saw (:func:`balanced_batch_gradient`) instead of a forward of the
        balanced set."""
        self.bal_x, self.bal_y = bal_x, bal_y
        self.n_local, self.g_missing = n_local, g_missing
        self.num_classes, self.lam = num_classes, lam
        self.local_mask, self.loss = local_mask, loss
        self.g: Grad | None = None

    def real_gradient(self, model: FedNet) -> Grad | None:
        """grad_W CE(W h(x).detach(), y) on the balanced real set (backbone in train mode), or
        on the current batch's balanced classes when the callback has the recording loss."""
        if self.loss is not None:
            sums = self.loss.forward.class_sums(self.num_classes)
            return balanced_batch_gradient(sums, self.local_mask)
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


class PrototypeSums(Callback):
    """The ``prototypes_from=local_pass`` variant: class sums of the analytic classifier gradient
    (Eq. 4) accumulated from the last local epoch's batches, from the h and W h that the
    training forward computed (train mode, augmented, the model as it trains), not from an
    extra eval pass of the received model over all local data."""

    def __init__(self, loss: RecordingLoss, num_classes: int):
        self.loss, self.num_classes = loss, num_classes
        self.sums: ClassSums | None = None

    def before_backward(self, trainer: Trainer, loss: torch.Tensor) -> None:
        if trainer.state.epoch != trainer.cfg.max_epochs - 1:
            return
        sums = self.loss.forward.class_sums(self.num_classes)
        self.sums = sums if self.sums is None else tuple(
            a + b for a, b in zip(self.sums, sums, strict=True))

    def prototypes(self) -> GradientPrototypes:
        return prototypes_from_sums(*self.sums)


class RedGrape(FedMethod):
    """RedGrape (Yang et al., 2023). ``per_class`` is T (None = the 'T = inf' ablation),
    ``supplementary`` toggles W_hat, ``aggregate_supplementary`` averages W_hat on the server
    instead of keeping one per client.

    Cost options (the paper's variant is the default): ``prototypes_from`` = ``received_model``
    (Sec. 4.2: an eval pass of the received model over all local data) or ``local_pass`` (the
    last local epoch's own forwards, :class:`PrototypeSums`); ``real_gradient_from`` =
    ``balanced_set`` (Sec. 4.4: a forward of the T-per-class set every batch) or ``batch`` (the
    batch's balanced classes, :func:`balanced_batch_gradient`); ``proto_dtype`` the prototypes'
    wire precision."""

    def __init__(
        self,
        lam: float = 0.1,
        per_class: int | None = 8,
        supplementary: bool = True,
        aggregate_supplementary: bool = False,
        prototypes_from: str = "received_model",
        real_gradient_from: str = "balanced_set",
        proto_dtype: str = "float32",
    ):
        check_choice("task.method.prototypes_from", prototypes_from, PROTOTYPES_FROM)
        check_choice("task.method.real_gradient_from", real_gradient_from, REAL_GRADIENT_FROM)
        check_choice("task.method.proto_dtype", proto_dtype, tuple(PROTO_DTYPES))
        self.lam = lam
        self.per_class = per_class
        self.supplementary = supplementary
        self.aggregate_supplementary = aggregate_supplementary
        self.prototypes_from = prototypes_from
        self.real_gradient_from = real_gradient_from
        self.proto_dtype = PROTO_DTYPES[proto_dtype]
        self.prototypes: GradientPrototypes | None = None
        self.client_supplementary: dict[int, Arrays] = {}

    def broadcast(self, client_id: int) -> Arrays:
        out = self.prototypes.to_arrays(PROTO, self.proto_dtype) if self.prototypes else {}
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
        recording = RecordingLoss()
        sums = PrototypeSums(recording, env.num_classes)
        from_pass = self.prototypes_from == "local_pass"
        callbacks: list[Callback] = [sums] if from_pass else []
        own = None if from_pass else client_prototypes(model, data, env)
        protos = GradientPrototypes.from_arrays(arrays, PROTO)
        if protos is not None:
            protos = GradientPrototypes(
                protos.weight.to(env.prep.device), protos.bias.to(env.prep.device), protos.present
            )
            idx, mask = balanced_subset(data.y, self.per_class, env.num_classes, env.generator)
            bal_x = env.prep(data.x[idx], env.generator if env.local.batches.augment else None)
            bal_y = data.y[idx].to(env.prep.device)
            g_missing = missing_class_mean(protos, mask)
            from_batch = self.real_gradient_from == "batch"
            callbacks.append(ClassifierCorrection(
                bal_x, bal_y, int(mask.sum()), g_missing, env.num_classes, self.lam,
                local_mask=mask, loss=recording if from_batch else None))
        loss = env.train(model, data, loss_fn=recording, callbacks=callbacks)
        own = own if own is not None else sums.prototypes()
        return own.to_arrays(PROTO, self.proto_dtype), loss

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
