"""Time per round and bytes sent per client per round (model + method arrays, both directions)
for FedAvg vs RedGrape vs CReFF, in one run, on the same synthetic CIFAR-shaped federation.
RedGrape runs as in the paper (prototypes from an eval pass of the received model, g_real from
a forward of the balanced set every batch) and with the cost options that reuse the local
pass's own forwards (``prototypes_from=local_pass``, ``real_gradient_from=batch``), with float32
and float16 prototypes on the wire. Ends with one ``ratio`` line per method against FedAvg.
Times are CPU seconds of this process on ``--threads`` torch threads (default 1), so the ratios
hold on a busy machine too. Round 0 is a warm-up and not counted (RedGrape has no prototypes
to correct with in its first round).

    .venv/bin/python scripts/bench_fed.py [--rounds 3] [--clients 8] [--per-client 200]
        [--depth 8] [--width 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

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


class Bench:
    """One method's federation: its server, and the CPU time and bytes of the counted rounds."""

    def __init__(self, factory, args, clients: list[ClientData], local: LocalTraining,
                 prep: Preprocess):
        self.factory, self.clients, self.local, self.prep = factory, clients, local, prep
        self.num_classes, self.depth, self.width = args.classes, args.depth, args.width
        method = factory()
        self.supplementary = method.supplementary
        with seeded(0):
            model = self.make_model()
        self.server = FedServer(method, model, len(clients), len(clients), seed=0)
        self.up = self.down = 0
        self.total = self.server_time = 0.0

    def make_model(self) -> FedNet:
        return FedNet(CifarResNet(self.num_classes, self.depth, self.width), self.num_classes,
                      supplementary=self.supplementary)

    def round(self, r: int, counted: bool) -> None:
        start = time.process_time()
        replies, up, down = [], 0, 0
        for cid in self.server.sample():
            state, arrays = self.server.message(cid)
            down += nbytes(state) + nbytes(arrays)
            reply = run_client(self.factory(), self.make_model, state, arrays, self.clients[cid],
                               local=self.local, prep=self.prep, num_classes=self.num_classes,
                               seed=0, round_idx=r, client_id=cid)
            up += nbytes(reply.state) + nbytes(reply.arrays)
            replies.append((cid, reply))
        t0 = time.process_time()
        self.server.aggregate(replies)
        end = time.process_time()
        if counted:
            self.up, self.down = self.up + up, self.down + down
            self.total += end - start
            self.server_time += end - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=200)
    parser.add_argument("--depth", type=int, default=8, help="ResNet depth (official: 56)")
    parser.add_argument("--width", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    c = args.classes
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
    fast = partial(RedGrape, prototypes_from="local_pass", real_gradient_from="batch")
    methods = {
        "FedAvg": FedAvg,
        "RedGrape": RedGrape,
        "RedGrape (local pass)": fast,
        "RedGrape (local pass, fp16)": partial(fast, proto_dtype="float16"),
        "CReFF": CReFF,
    }
    benches = {name: Bench(f, args, clients, local, prep) for name, f in methods.items()}
    for r in range(args.rounds + 1):
        for bench in benches.values():  # interleaved: a change of machine load hits every method
            bench.round(r, counted=r > 0)
    print("| method | CPU s / round | upload KiB / client | download KiB / client | server CPU s |")
    print("| --- | --- | --- | --- | --- |")
    measured: dict[str, tuple[float, float]] = {}
    n = args.rounds * args.clients
    for name, b in benches.items():
        measured[name] = (b.total / args.rounds, b.up / n)
        print(f"| {name} | {b.total / args.rounds:.2f} | {b.up / n / 1024:.1f} | "
              f"{b.down / n / 1024:.1f} | {b.server_time / args.rounds:.2f} |")
    for name in list(methods)[1:]:
        slug = name.lower().replace(" (", "_").replace(", ", "_").replace(" ", "_").rstrip(")")
        print(
            f"ratio round_time {slug}/fedavg = "
            f"{measured[name][0] / measured['FedAvg'][0]:.3f}  "
            f"ratio upload_bytes {slug}/fedavg = "
            f"{measured[name][1] / measured['FedAvg'][1]:.3f}"
        )


if __name__ == "__main__":
    main()
