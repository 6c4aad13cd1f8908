"""The typed ``task:`` of a federated run: the federation (long-tailed data, clients, rounds),
the clients' batches, the engine, the method and the methods it is compared with.

Local optimisation is not here: it is the run's ``optim`` group (``optim.lr`` is the local
learning rate) and ``trainer`` group (``trainer.max_epochs`` local epochs per round,
``trainer.grad_clip``), the same vocabulary as every other paper (see ``local.LocalTraining``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.params import ConfigError, check_choice, check_positive

ENGINES = ("simulation", "flower")
FLOWER_BACKENDS = ("ray", "inprocess")
METHODS = {
    "fedavg": "papers.fed_rebalance.baselines.FedAvg",
    "fedprox": "papers.fed_rebalance.baselines.FedProx",
    "fedfocal": "papers.fed_rebalance.baselines.FedFocal",
    "creff": "papers.fed_rebalance.creff.CReFF",
    "redgrape": "papers.fed_rebalance.redgrape.RedGrape",
}
"""Method names (``task.compare``, metric prefixes) and their classes."""


def method_name(node: dict[str, Any]) -> str:
    """The name of a method node: its key in :data:`METHODS`, else its class name lower-cased."""
    target = str(node["_target_"])
    names = {path: name for name, path in METHODS.items()}
    return names.get(target, target.rpartition(".")[2].lower())


@dataclass
class Federation:
    """CIFAR-10-LT over clients (Sec. 5.1 of both papers) and the round budget."""

    imbalance_factor: float = 100.0
    alpha: float = 0.5
    n_max: int | None = None  # None: train size / classes (5000 for CIFAR-10)
    num_clients: int = 20
    per_round: int = 8
    rounds: int = 30
    eval_every: int = 5  # 0: evaluate after the last round only
    min_client_size: int = 10
    test_per_class: int | None = None  # None: the full balanced test set
    groups: list[int] = field(default_factory=lambda: [3, 4, 3])  # head / medium / tail sizes

    def __post_init__(self) -> None:
        for key in ("imbalance_factor", "alpha", "n_max", "num_clients", "per_round", "rounds",
                    "min_client_size", "test_per_class"):
            check_positive(f"fed.{key}", getattr(self, key))
        check_positive("fed.eval_every", self.eval_every, allow_zero=True)
        if self.per_round > self.num_clients:
            raise ConfigError("fed.per_round", f"{self.per_round} > fed.num_clients "
                              f"({self.num_clients})", "sample at most every client per round")
        if len(self.groups) != 3 or min(self.groups) < 1:
            raise ConfigError("fed.groups", f"{self.groups} is not three positive class counts",
                              "give head / medium / tail sizes, e.g. [3, 4, 3]")


@dataclass
class LocalBatches:
    """How a client cuts its data into batches: ``batch_size`` images, random crop + flip."""

    batch_size: int = 32
    augment: bool = True

    def __post_init__(self) -> None:
        check_positive("local.batch_size", self.batch_size)


@dataclass
class FlowerSettings:
    """``engine: flower``: Flower's simulation runtime (``ray``) or the same messages delivered
    in this process (``inprocess``); CPUs per Ray client actor."""

    backend: str = "ray"
    cpus_per_client: int = 1

    def __post_init__(self) -> None:
        check_choice("flower.backend", self.backend, FLOWER_BACKENDS)
        check_positive("flower.cpus_per_client", self.cpus_per_client)


@dataclass
class FedTask:
    """``task:`` of every fed_rebalance config. ``method`` is a ``_target_`` node (one of
    :data:`METHODS` with its hyper-parameters); ``compare`` names further methods trained with
    their default hyper-parameters on the same data, partition, initial model and client
    sampling, each reported under ``<name>/``."""

    method: dict[str, Any] = field(default_factory=dict)
    engine: str = "simulation"
    compare: list[str] = field(default_factory=list)
    fed: Federation = field(default_factory=Federation)
    local: LocalBatches = field(default_factory=LocalBatches)
    flower: FlowerSettings = field(default_factory=FlowerSettings)

    def __post_init__(self) -> None:
        check_choice("engine", self.engine, ENGINES)
        if "_target_" not in self.method:
            raise ConfigError("method._target_", "missing",
                              f"name the method's class, one of {sorted(METHODS.values())}")
        for name in self.compare:
            check_choice("compare", name, METHODS)
        names = [method_name(self.method), *self.compare]
        if len(set(names)) != len(names):
            raise ConfigError("compare", f"{names} names a method twice",
                              "list each method once (the trained method counts)")

    def methods(self) -> dict[str, dict[str, Any]]:
        """Name -> method node of every method this run trains, the configured one first."""
        return {method_name(self.method): self.method,
                **{name: {"_target_": METHODS[name]} for name in self.compare}}
