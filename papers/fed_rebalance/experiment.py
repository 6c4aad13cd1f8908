"""``run_federated(ctx, task)``: CIFAR-10-LT over clients, one method (or several compared on the
same federation), one engine."""

from __future__ import annotations

import json
import time

from common.context import RunContext
from papers.fed_rebalance.engine.simulation import simulate
from papers.fed_rebalance.evaluation import round_report
from papers.fed_rebalance.federated import FedServer
from papers.fed_rebalance.fedsetup import FedSetup, setup_from_run
from papers.fed_rebalance.settings import FedTask


def train_method(ctx: RunContext, task: FedTask, setup: FedSetup, prefix: str) -> dict[str, float]:
    """``task.fed.rounds`` rounds of ``setup``'s method on ``task.engine``; every round's metrics
    are logged under ``prefix``; returns the last evaluation's test accuracies and the time."""
    fed = task.fed
    final: dict[str, float] = {}
    start = time.perf_counter()

    def on_round(r: int, server: FedServer, metrics: dict[str, float]) -> None:
        report = round_report(r, server, setup, fed, metrics)
        final.update({k: v for k, v in report.items() if k.startswith("test/")})
        report["time/elapsed_s"] = time.perf_counter() - start
        ctx.tracker.log({f"{prefix}{k}": v for k, v in report.items()}, step=r + 1)

    rounds = dict(rounds=fed.rounds, per_round=fed.per_round, seed=ctx.seed, on_round=on_round)
    if task.engine == "simulation":
        simulate(setup, progress=lambda it: ctx.progress(it, desc=f"{prefix}rounds"), **rounds)
    else:  # flower: its optional dependency is imported only when a run uses it
        from papers.fed_rebalance.engine.flower import run_flower

        run_flower(setup, flower=task.flower, **rounds)
    elapsed = time.perf_counter() - start
    return {**{f"{prefix}{k}": v for k, v in final.items()}, f"time/{prefix}train_s": elapsed}


def run_federated(ctx: RunContext, task: FedTask) -> dict[str, float]:
    """Federated training of ``task.method`` (and of every ``task.compare`` method, each from
    the same data, partition, initial model and client sampling) for ``task.fed.rounds`` rounds
    on ``task.engine``: ``simulation`` in-process, or ``flower`` through Flower. Metrics are
    ``test/<group>_acc``, or ``<method>/test/<group>_acc`` when methods are compared."""
    setup = setup_from_run(ctx.cfg, task, ctx.device)
    sizes = [len(c.y) for c in setup.clients]
    ctx.tracker.summary({"data/train_size": sum(sizes), "data/min_client": min(sizes)})
    (ctx.run_dir / "partition.json").write_text(
        json.dumps({"class_counts": setup.class_counts, "client_sizes": sizes})
    )
    methods = task.methods()
    if len(methods) == 1:
        return train_method(ctx, task, setup, prefix="")
    results: dict[str, float] = {}
    for name, node in methods.items():
        results |= train_method(ctx, task, setup.with_method(node), prefix=f"{name}/")
    return results
