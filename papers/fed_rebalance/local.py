"""The federated model wrapper and every client's local pass, run on ``common.training.Trainer``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from common.optim import build_optimizer
from common.params import ConfigError
from common.training import Callback, Trainer, TrainerConfig
from common.vision.data import random_crop_flip
from papers.fed_rebalance.settings import LocalBatches

Batch = tuple[torch.Tensor, torch.Tensor]


class FedNet(nn.Module):
    """A zoo model (``features`` + ``classifier``) plus RedGrape's optional supplementary
    classifier W_hat (Sec. 4.4): training logits are (W + W_hat) h, inference uses W alone."""

    def __init__(self, net: nn.Module, num_classes: int, supplementary: bool = False):
        super().__init__()
        self.net = net
        self.supplementary = nn.Linear(net.feature_dim, num_classes) if supplementary else None

    @property
    def classifier(self) -> nn.Linear:
        return self.net.classifier

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)

    def train_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(h(x), W h(x), training logits): the training logits are (W + W_hat) h(x) when W_hat
        exists, else W h(x). RedGrape's callbacks reuse h and W h of the same forward."""
        h = self.net.features(x)
        logits = self.net.classifier(h)
        if self.supplementary is None:
            return h, logits, logits
        return h, logits, logits + self.supplementary(h)

    def train_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(W + W_hat) h(x) when W_hat exists, else W h(x)."""
        return self.train_forward(x)[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Preprocess:
    """uint8 images -> normalised float tensors, with optional random crop + flip."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device):
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.device = device

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is not None:
            x = random_crop_flip(x, generator)
        return (x.to(self.device).float() / 255.0 - self.mean) / self.std


LossFn = Callable[[FedNet, Batch], torch.Tensor]


class ClientBatches:
    """One client's data as the Trainer's re-iterable batch source: every pass (epoch) draws
    ``torch.randperm(n, generator)``, then each batch is preprocessed (random crop + flip drawn
    from the same generator when ``augment``), in exactly that order of generator draws."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, prep: Preprocess,
                 generator: torch.Generator, augment: bool):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.prep, self.generator, self.augment = prep, generator, augment

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        order = torch.randperm(len(self.y), generator=self.generator)
        for start in range(0, len(self.y), self.batch_size):
            idx = order[start : start + self.batch_size]
            xb = self.prep(self.x[idx], self.generator if self.augment else None)
            yield xb, self.y[idx].to(self.prep.device)


@dataclass(frozen=True)
class LocalTraining:
    """How every client trains, whatever the method: the run's ``optim`` node (SGD, ``optim.lr``),
    the loop settings of one local pass (``trainer.max_epochs`` local epochs, ``grad_clip``,
    ``grad_accum``, ``max_steps`` from the run's ``trainer``; no evaluation, logging,
    checkpoints or progress bar) and the client's batches."""

    trainer: TrainerConfig
    optim: dict[str, Any]
    batches: LocalBatches

    @classmethod
    def from_run(cls, optim: Mapping[str, Any], trainer: Mapping[str, Any],
                 batches: LocalBatches) -> LocalTraining:
        """From the run's ``optim`` and ``trainer`` groups (plain mappings)."""
        run = TrainerConfig.from_mapping(dict(trainer))
        if run.max_epochs is None:
            raise ConfigError("trainer.max_epochs", "is the number of local epochs per round",
                              "set trainer.max_epochs=<epochs>")
        # log_every = max_epochs: the pass's one train record is its mean loss over all batches.
        local = dataclasses.replace(
            run, unit="epoch", log_every=run.max_epochs, checkpoint_every=0, monitor=None,
            patience=None, restore_best=False, log=False, progress=False)
        return cls(local, dict(optim), batches)


def train_locally(
    model: FedNet,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    local: LocalTraining,
    prep: Preprocess,
    generator: torch.Generator,
    loss_fn: LossFn,
    callbacks: Sequence[Callback] = (),
) -> float:
    """One client's local pass on the shared ``common.training.Trainer``; returns the mean loss
    over all its batches. Per batch: loss -> callbacks.before_backward -> backward ->
    callbacks.after_backward -> clip (``trainer.grad_clip``, as in RedGrape's trainer) ->
    step -> callbacks.after_step."""
    model.train()
    batches = ClientBatches(x, y, batch_size=local.batches.batch_size, prep=prep,
                            generator=generator, augment=local.batches.augment)
    trainer = Trainer(local.trainer, model=model,
                      optimizer=build_optimizer(local.optim, model.parameters()),
                      loss_fn=loss_fn, train_data=batches, callbacks=callbacks, name="client")
    return trainer.fit().history[-1]["train/loss"]


def cross_entropy_loss(model: FedNet, batch: Batch) -> torch.Tensor:
    """Plain CE on the training logits."""
    x, y = batch
    return nn.functional.cross_entropy(model.train_logits(x), y)
