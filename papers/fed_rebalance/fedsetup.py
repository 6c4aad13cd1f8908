"""Build everything a federated run needs from the config: long-tailed client partitions, the
model factory, preprocessing, local settings and the method."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from papers.fed_rebalance.federated import ClientData, FedMethod
from papers.fed_rebalance.local import FedNet, LocalConfig, Preprocess
from papers.fed_rebalance.partition import dirichlet_split, long_tail_counts, long_tail_indices


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
    local: LocalConfig


def build_setup(cfg: DictConfig, device: torch.device) -> FedSetup:
    """CIFAR-10-LT (counts n_max * IF^(-c/(C-1))), split over clients by per-class Dirichlet(alpha);
    the test set stays balanced (optionally the first ``test_per_class`` images of each class)."""
    fed = cfg.fed
    data = instantiate(cfg.data)
    rng = np.random.default_rng(cfg.seed)
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
    method_cfg = OmegaConf.to_container(cfg.method, resolve=True)
    model_cfg = cfg.model

    def make_model() -> FedNet:
        method = instantiate(method_cfg)
        net = instantiate(model_cfg, num_classes=c)
        return FedNet(net, c, supplementary=method.supplementary)

    def make_method() -> FedMethod:
        return instantiate(method_cfg)

    local = LocalConfig(**OmegaConf.to_container(cfg.local, resolve=True))
    return FedSetup(
        clients,
        test_x,
        test_y,
        counts,
        c,
        make_model,
        make_method,
        Preprocess(data.mean, data.std, device),
        local,
    )
