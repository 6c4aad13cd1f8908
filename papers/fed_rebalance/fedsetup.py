"""Everything a federated run needs: long-tailed client partitions, the model and method
factories, preprocessing and the clients' local training. :func:`setup_from_run` is the one place
that reads the composed config (the run's ``data``, ``model``, ``optim`` and ``trainer`` groups);
below it everything is typed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from common.seeding import seeded
from common.vision.data import ImageData
from papers.fed_rebalance.federated import ClientData, FedMethod, FedServer
from papers.fed_rebalance.local import FedNet, LocalTraining, Preprocess
from papers.fed_rebalance.partition import dirichlet_split, long_tail_counts, long_tail_indices
from papers.fed_rebalance.settings import FedTask

NetFactory = Callable[[int], nn.Module]
"""num_classes -> a zoo model with ``features``, ``classifier`` and ``feature_dim``."""


@dataclass
class FedSetup:
    """Clients' data, the balanced test set and the factories a client or server needs."""

    clients: list[ClientData]
    test_x: torch.Tensor
    test_y: torch.Tensor
    class_counts: list[int]
    num_classes: int
    make_model: Callable[[], FedNet]
    make_method: Callable[[], FedMethod]
    prep: Preprocess
    local: LocalTraining
    make_net: NetFactory

    def with_method(self, node: dict[str, Any]) -> FedSetup:
        """The same federation (data, partition, local training) training another method."""
        make_model, make_method = method_factories(node, self.make_net, self.num_classes)
        return dataclasses.replace(self, make_model=make_model, make_method=make_method)


def method_factories(
    node: dict[str, Any], make_net: NetFactory, num_classes: int
) -> tuple[Callable[[], FedNet], Callable[[], FedMethod]]:
    """The model and method factories of a method node (a ``_target_`` dict): the model gets
    RedGrape's W_hat when the method uses one."""
    supplementary = instantiate(node).supplementary

    def make_model() -> FedNet:
        return FedNet(make_net(num_classes), num_classes, supplementary=supplementary)

    def make_method() -> FedMethod:
        return instantiate(node)

    return make_model, make_method


def build_setup(
    task: FedTask,
    data: ImageData,
    make_net: NetFactory,
    local: LocalTraining,
    *,
    seed: int,
    device: torch.device,
) -> FedSetup:
    """CIFAR-10-LT (counts n_max * IF^(-c/(C-1))), split over clients by per-class Dirichlet(alpha);
    the test set stays balanced (optionally the first ``test_per_class`` images of each class).
    Both draws come from ``numpy.random.default_rng(seed)``."""
    fed = task.fed
    rng = np.random.default_rng(seed)
    c = data.num_classes
    n_max = fed.n_max or len(data.train_y) // c
    counts = long_tail_counts(n_max, c, fed.imbalance_factor)
    keep = long_tail_indices(data.train_y, counts, rng)
    y_lt = data.train_y[keep]
    parts = dirichlet_split(y_lt.numpy(), fed.num_clients, fed.alpha, rng, fed.min_client_size)
    clients = [ClientData(data.train_x[keep[p]], y_lt[torch.from_numpy(p)]) for p in parts]
    test_x, test_y = data.test_x, data.test_y
    if fed.test_per_class:
        sel = torch.cat(
            [torch.nonzero(test_y == k).flatten()[: fed.test_per_class] for k in range(c)]
        )
        test_x, test_y = test_x[sel], test_y[sel]
    make_model, make_method = method_factories(task.method, make_net, c)
    prep = Preprocess(data.mean, data.std, device)
    return FedSetup(clients, test_x, test_y, counts, c, make_model, make_method, prep, local,
                    make_net)


def initial_server(setup: FedSetup, per_round: int, seed: int) -> FedServer:
    """The server with the initial global model. The model is drawn inside ``seeded(seed)``
    (torch's global RNG seeded with the run seed, restored afterwards): the initial weights of
    the pinned runs, the same on both engines and for every method of a comparison."""
    with seeded(seed):
        model = setup.make_model().to(setup.prep.device)
    return FedServer(setup.make_method(), model, len(setup.clients), per_round, seed)


def setup_from_run(cfg: DictConfig, task: FedTask, device: torch.device) -> FedSetup:
    """The setup of a composed run config: ``data`` and ``model`` groups, the local optimizer
    (``optim``) and loop (``trainer``), and ``seed``."""
    local = LocalTraining.from_run(
        OmegaConf.to_container(cfg.optim, resolve=True),
        OmegaConf.to_container(cfg.trainer, resolve=True),
        task.local,
    )
    model = OmegaConf.to_container(cfg.model, resolve=True)

    def make_net(num_classes: int) -> nn.Module:
        return instantiate(model, num_classes=num_classes)

    data = instantiate(cfg.data)
    return build_setup(task, data, make_net, local, seed=int(cfg.seed), device=device)
