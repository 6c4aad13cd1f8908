"""Engine-neutral client and server functions: what crosses the wire is a model state dict plus a
dict of named tensors (prototypes, feature gradients), so any engine can carry it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from common.training import Callback
from papers.fed_rebalance.local import (
    FedNet,
    LocalTraining,
    LossFn,
    Preprocess,
    cross_entropy_loss,
    train_locally,
)

Arrays = dict[str, torch.Tensor]


@dataclass
class ClientData:
    """One client's local training set: uint8 images and int64 labels."""

    x: torch.Tensor
    y: torch.Tensor


@dataclass
class ClientEnv:
    """Everything a client update needs besides the model, data and server arrays."""

    local: LocalTraining
    prep: Preprocess
    generator: torch.Generator
    num_classes: int
    round: int

    def train(
        self,
        model: FedNet,
        data: ClientData,
        loss_fn: LossFn = cross_entropy_loss,
        callbacks: Sequence[Callback] = (),
    ) -> float:
        """The one local pass every method runs on its data (``local.train_locally``: the
        shared Trainer); ``callbacks`` hook into every batch (RedGrape's correction)."""
        return train_locally(model, data.x, data.y, local=self.local, prep=self.prep,
                             generator=self.generator, loss_fn=loss_fn, callbacks=callbacks)


@dataclass
class ClientReply:
    """A client's answer: its trained state, sample count, method arrays and scalar metrics."""

    state: Arrays
    num_samples: int
    arrays: Arrays = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class FedMethod:
    """A federated algorithm as a client function and a server function. The server side keeps
    its state (prototypes, synthetic features) on the instance; the client side is stateless."""

    supplementary: bool = False

    def setup(self, model: FedNet) -> None:
        """Initialise the server state from the initial global model."""

    def broadcast(self, client_id: int) -> Arrays:
        """Extra arrays sent with the global model to ``client_id`` this round."""
        return {}

    def client_update(
        self, model: FedNet, data: ClientData, arrays: Arrays, env: ClientEnv
    ) -> tuple[Arrays, float]:
        """Train ``model`` in place on ``data``; return (arrays to send back, mean local loss)."""
        raise NotImplementedError

    def server_update(self, model: FedNet, replies: list[tuple[int, ClientReply]]) -> None:
        """Method-specific server work after FedAvg wrote the averaged state into ``model``."""

    def eval_model(self, model: FedNet) -> torch.nn.Module:
        """The model the server evaluates (W only; CReFF swaps in its re-trained classifier)."""
        return model


def fedavg(states: list[Arrays], weights: list[float]) -> Arrays:
    """FedAvg (McMahan et al., 2017): sum_k (n_k / n) theta_k for every state entry; integer
    buffers (BatchNorm's ``num_batches_tracked``) are averaged and rounded."""
    total = float(sum(weights))
    out: Arrays = {}
    for key, ref in states[0].items():
        acc = sum(s[key].double() * (w / total) for s, w in zip(states, weights, strict=True))
        out[key] = acc.round().to(ref.dtype) if not ref.is_floating_point() else acc.to(ref.dtype)
    return out


def client_seed(seed: int, round_idx: int, client_id: int) -> int:
    """The seed of one client's update in one round: the same on every engine."""
    return int(np.random.SeedSequence([seed, round_idx, client_id]).generate_state(1)[0])


def run_client(
    method: FedMethod,
    make_model: Callable[[], FedNet],
    state: Arrays,
    arrays: Arrays,
    data: ClientData,
    *,
    local: LocalTraining,
    prep: Preprocess,
    num_classes: int,
    seed: int,
    round_idx: int,
    client_id: int,
) -> ClientReply:
    """The client function: load the global state, run the method's local update, reply."""
    model = make_model()
    model.load_state_dict(state)
    model.to(prep.device)
    gen = torch.Generator().manual_seed(client_seed(seed, round_idx, client_id))
    env = ClientEnv(local, prep, gen, num_classes, round_idx)
    out, loss = method.client_update(model, data, arrays, env)
    new_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return ClientReply(new_state, len(data.y), {k: v.cpu() for k, v in out.items()}, {"loss": loss})


class FedServer:
    """The server function: client sampling, the message for each client, and aggregation."""

    def __init__(
        self, method: FedMethod, model: FedNet, num_clients: int, per_round: int, seed: int
    ):
        self.method = method
        self.model = model
        self.num_clients = num_clients
        self.per_round = per_round
        self.rng = np.random.default_rng(seed)
        method.setup(model)

    def sample(self) -> list[int]:
        """``per_round`` distinct clients, uniformly at random, sorted."""
        return sorted(self.rng.choice(self.num_clients, self.per_round, replace=False).tolist())

    def message(self, client_id: int) -> tuple[Arrays, Arrays]:
        state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        return state, self.method.broadcast(client_id)

    def aggregate(self, replies: list[tuple[int, ClientReply]]) -> dict[str, float]:
        """FedAvg weighted by sample counts, then the method's server step. Replies are sorted by
        client id first, so the result does not depend on the order they arrived in."""
        replies = sorted(replies, key=lambda r: r[0])
        weights = [float(r.num_samples) for _, r in replies]
        averaged = fedavg([r.state for _, r in replies], weights)
        self.model.load_state_dict(averaged)
        self.method.server_update(self.model, replies)
        loss = sum(w * r.metrics["loss"] for w, (_, r) in zip(weights, replies, strict=True))
        return {"train/loss": loss / sum(weights)}


RoundCallback = Callable[[int, FedServer, dict[str, float]], None]
"""What an engine calls after each aggregation: ``on_round(round, server, train metrics)``."""
