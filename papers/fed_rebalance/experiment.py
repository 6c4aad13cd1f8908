"""``run_federated(ctx, engine=...)``: CIFAR-10-LT over clients, one method, one engine."""

from __future__ import annotations

import json
import time

from common.context import RunContext
from papers.fed_rebalance.evaluation import group_accuracy, per_class_accuracy
from papers.fed_rebalance.federated import FedServer
from papers.fed_rebalance.fedsetup import FedSetup, build_setup


def evaluate(server: FedServer, setup: FedSetup, groups: list[int]) -> dict[str, float]:
    """Balanced test accuracy of the server's evaluation model: overall, head, medium, tail."""
    model = server.method.eval_model(server.model)
    acc = per_class_accuracy(model, setup.test_x, setup.test_y, setup.prep, setup.num_classes)
    return {f"test/{k}_acc": v for k, v in group_accuracy(acc, groups).items()}


def run_federated(ctx: RunContext, engine: str = "simulation") -> dict[str, float]:
    """Federated training of ``ctx.cfg.method`` for ``fed.rounds`` rounds on the chosen engine
    (``simulation`` in-process, or ``flower`` through Flower's simulation runtime); evaluates every
    ``fed.eval_every`` rounds and at the end."""
    cfg = ctx.cfg
    fed = cfg.fed
    setup = build_setup(cfg, ctx.device)
    groups = list(fed.groups)
    sizes = [len(c.y) for c in setup.clients]
    ctx.tracker.summary({"data/train_size": sum(sizes), "data/min_client": min(sizes)})
    (ctx.run_dir / "partition.json").write_text(
        json.dumps({"class_counts": setup.class_counts, "client_sizes": sizes})
    )
    final: dict[str, float] = {}
    start = time.perf_counter()

    def on_round(r: int, server: FedServer, metrics: dict[str, float]) -> None:
        nonlocal final
        metrics = dict(metrics)
        last = r == fed.rounds - 1
        if last or (fed.eval_every and (r + 1) % fed.eval_every == 0):
            final = evaluate(server, setup, groups)
            metrics |= final
        metrics["time/elapsed_s"] = time.perf_counter() - start
        ctx.tracker.log(metrics, step=r + 1)

    if engine == "simulation":
        from papers.fed_rebalance.engine.simulation import simulate

        simulate(
            setup,
            rounds=fed.rounds,
            per_round=fed.per_round,
            seed=ctx.seed,
            on_round=on_round,
            progress=lambda it: ctx.progress(it, desc="rounds"),
        )
    elif engine == "flower":
        from papers.fed_rebalance.engine.flower import run_flower

        run_flower(cfg, setup, seed=ctx.seed, on_round=on_round)
    else:
        raise ValueError(f"engine must be 'simulation' or 'flower', got {engine!r}")
    return {**final, "time/train_s": time.perf_counter() - start}
