"""The zoo's GCN / SGC / APPNP against PyG's layers on Cora: CPU time per training epoch
(forward + backward + Adam step) and per evaluation forward, as ratios measured in one run.

    python scripts/bench_graph.py [--data cora] [--epochs 50]

CPU process time with one thread, so the ratio holds on a busy machine too.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch_geometric.nn import APPNP, GCNConv, SGConv

from common.graph.data import load_graph
from common.graph.models import GNN


class PygGCN(torch.nn.Module):
    def __init__(self, d_in: int, d_out: int, hidden: int = 64):
        super().__init__()
        self.c1, self.c2 = GCNConv(d_in, hidden, cached=True), GCNConv(hidden, d_out, cached=True)

    def forward(self, x, ei):
        x = F.dropout(x, 0.5, self.training)
        x = F.dropout(F.relu(self.c1(x, ei)), 0.5, self.training)
        return self.c2(x, ei)


class PygSGC(torch.nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.conv = SGConv(d_in, d_out, K=2, cached=True)

    def forward(self, x, ei):
        return self.conv(F.dropout(x, 0.5, self.training), ei)


class PygAPPNP(torch.nn.Module):
    def __init__(self, d_in: int, d_out: int, hidden: int = 64):
        super().__init__()
        self.l1, self.l2 = torch.nn.Linear(d_in, hidden), torch.nn.Linear(hidden, d_out)
        self.prop = APPNP(K=10, alpha=0.1, cached=True)

    def forward(self, x, ei):
        x = F.relu(self.l1(F.dropout(x, 0.5, self.training)))
        return self.prop(self.l2(F.dropout(x, 0.5, self.training)), ei)


def cpu_ms(model: torch.nn.Module, data, epochs: int) -> tuple[float, float]:
    opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def step():
        model.train()
        opt.zero_grad()
        out = model(data.x, data.edge_index)
        F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        opt.step()

    def evaluate():
        model.eval()
        with torch.no_grad():
            model(data.x, data.edge_index)

    step()
    start = time.process_time()
    for _ in range(epochs):
        step()
    train = (time.process_time() - start) / epochs * 1e3
    start = time.process_time()
    for _ in range(epochs):
        evaluate()
    return train, (time.process_time() - start) / epochs * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="cora")
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_graph(args.data)
    d_in, d_out = data.num_features, int(data.y.max()) + 1
    pairs = {
        "gcn": (GNN(d_in, d_out, conv="gcn"), PygGCN(d_in, d_out)),
        "sgc": (GNN(d_in, d_out, conv="sgc"), PygSGC(d_in, d_out)),
        "appnp": (GNN(d_in, d_out, conv="appnp"), PygAPPNP(d_in, d_out)),
    }
    print(f"{args.data}: CPU ms per epoch (1 thread), ours vs PyG")
    print("| model | train ours | train PyG | speed-up | eval ours | eval PyG | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    speedups = {}
    for name, (ours, ref) in pairs.items():
        t_ours, e_ours = cpu_ms(ours, data, args.epochs)
        t_ref, e_ref = cpu_ms(ref, data, args.epochs)
        speedups[name] = (t_ref / t_ours, e_ref / e_ours)
        print(f"| {name} | {t_ours:.1f} | {t_ref:.1f} | {t_ref / t_ours:.1f}x | "
              f"{e_ours:.1f} | {e_ref:.1f} | {e_ref / e_ours:.1f}x |")
    for name, (train, evaluation) in speedups.items():
        print(f"ratio train_time {name} pyg/ours = {train:.3f}  "
              f"ratio eval_time {name} pyg/ours = {evaluation:.3f}")


if __name__ == "__main__":
    main()
