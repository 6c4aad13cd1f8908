"""Time per round and bytes sent per client per round (model + method arrays, both directions)
for FedAvg vs RedGrape vs CReFF, in one run, on the same synthetic CIFAR-shaped federation.

    .venv/bin/python scripts/bench_fed.py [--rounds 3] [--clients 8] [--per-client 200] [--width 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from common.seeding import seeded
from common.vision.models import CifarResNet
from papers.fed_rebalance.baselines import FedAvg
from papers.fed_rebalance.creff import CReFF
from papers.fed_rebalance.federated import ClientData, FedServer, run_client
from papers.fed_rebalance.local import FedNet, LocalTraining, Preprocess
from papers.fed_rebalance.redgrape import RedGrape
from papers.fed_rebalance.settings import LocalBatches

SGD = {"_target_": "torch.optim.SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0}
"""The fed configs' local optimizer (configs/experiment/fed_rebalance/_base.yaml)."""


def nbytes(arrays: dict[str, torch.Tensor]) -> int:
    return sum(v.numel() * v.element_size() for v in arrays.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=200)
    parser.add_argument("--width", type=int, default=1)
    args = parser.parse_args()
    c = 10
    g = torch.Generator().manual_seed(0)
    clients = [
        ClientData(
            torch.randint(0, 256, (args.per_client, 3, 32, 32), generator=g, dtype=torch.uint8),
            torch.randint(0, c, (args.per_client,), generator=g),
        )
        for _ in range(args.clients)
    ]
    prep = Preprocess((0.5,) * 3, (0.25,) * 3, torch.device("cpu"))
    local = LocalTraining.from_run(SGD, {"max_epochs": 1, "grad_clip": 1.0}, LocalBatches(32))
    methods = {"FedAvg": FedAvg, "RedGrape": RedGrape, "CReFF": CReFF}
    print("| method | s / round | client upload KiB | client download KiB | server s / round |")
    print("| --- | --- | --- | --- | --- |")
    measured: dict[str, tuple[float, float]] = {}
    for name, factory in methods.items():
        method = factory()

        def make_model(method=method):
            return FedNet(CifarResNet(c, 8, args.width), c, supplementary=method.supplementary)

        with seeded(0):
            model = make_model()
        server = FedServer(method, model, args.clients, args.clients, seed=0)
        up = down = 0
        total = server_time = 0.0
        for r in range(args.rounds):
            start = time.perf_counter()
            replies = []
            for cid in server.sample():
                state, arrays = server.message(cid)
                down += nbytes(state) + nbytes(arrays)
                reply = run_client(
                    factory(),
                    make_model,
                    state,
                    arrays,
                    clients[cid],
                    local=local,
                    prep=prep,
                    num_classes=c,
                    seed=0,
                    round_idx=r,
                    client_id=cid,
                )
                up += nbytes(reply.state) + nbytes(reply.arrays)
                replies.append((cid, reply))
            t0 = time.perf_counter()
            server.aggregate(replies)
            server_time += time.perf_counter() - t0
            total += time.perf_counter() - start
        n = args.rounds * args.clients
        measured[name] = (total / args.rounds, up / n)
        print(
            f"| {name} | {total / args.rounds:.2f} | {up / n / 1024:.1f} | {down / n / 1024:.1f} "
            f"| {server_time / args.rounds:.2f} |"
        )
    for name in ("RedGrape", "CReFF"):
        print(
            f"ratio round_time {name.lower()}/fedavg = "
            f"{measured[name][0] / measured['FedAvg'][0]:.3f}  "
            f"ratio upload_bytes {name.lower()}/fedavg = "
            f"{measured[name][1] / measured['FedAvg'][1]:.3f}"
        )


if __name__ == "__main__":
    main()
