"""MADGap's kernel, ours (row blocks + sparse BFS masks) against the straightforward dense way
(full N x N cosine matrix and dense hop masks), on Cora and on synthetic graphs of 10,000 and
50,000 nodes.

    .venv/bin/python scripts/bench_madgap.py [--nodes 50000] [--dense-limit-gb 6]

Each measurement runs in a fresh subprocess, so the peak resident memory it reports (ru_maxrss
minus the process's baseline) belongs to that computation alone. The dense computation is run only
where its N x N float32 matrices fit under ``--dense-limit-gb``; elsewhere the table says so.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import time
from typing import Any

import torch

from papers.madgap.mad import HopMasks, mad, mad_dense, mad_gap


def synthetic_graph(num_nodes: int, degree: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A 7-block stochastic block graph (90% of edges inside a block) and 64-d features that
    carry the block: a citation-like sparse graph of any size."""
    gen = torch.Generator().manual_seed(seed)
    blocks = torch.randint(0, 7, (num_nodes,), generator=gen)
    num_edges = int(num_nodes * degree / 2)
    src = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    order = torch.argsort(blocks)
    starts = torch.searchsorted(blocks[order], torch.arange(8))
    same = torch.rand(num_edges, generator=gen) < 0.9
    block = blocks[src]
    size = (starts[block + 1] - starts[block]).float()
    inside = order[starts[block] + (torch.rand(num_edges, generator=gen) * size).long()]
    dst = torch.where(same, inside, torch.randint(0, num_nodes, (num_edges,), generator=gen))
    centres = torch.randn(7, 64, generator=gen)
    features = centres[blocks] + 2.0 * torch.randn(num_nodes, 64, generator=gen)
    return torch.stack([src, dst]), features


def cora() -> tuple[torch.Tensor, torch.Tensor]:
    from common.graph.data import load_planetoid

    data = load_planetoid("cora")
    gen = torch.Generator().manual_seed(0)
    projection = torch.randn(data.num_features, 64, generator=gen)
    return data.edge_index, torch.relu(data.x @ projection)


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _measure(graph: str, nodes: int, method: str, queue: Any) -> None:
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    edges, h = cora() if graph == "cora" else synthetic_graph(nodes, 4.0, seed=0)
    num_nodes = h.shape[0]
    base = _peak_bytes()
    start = time.perf_counter()
    if method == "ours":
        masks = HopMasks(edges, num_nodes, cache_bytes=0)
        gap = mad_gap(h, masks)
        value = {"mad": float(mad(h)), "gap": float(gap.gap)}
    else:
        neighbour, remote = HopMasks(edges, num_nodes).dense()
        value = {
            "mad": float(mad_dense(h)),
            "gap": float(mad_dense(h, remote) - mad_dense(h, neighbour)),
        }
    seconds = time.perf_counter() - start
    queue.put({"seconds": seconds, "peak_mb": (_peak_bytes() - base) / 2**20, **value})


def measure(graph: str, nodes: int, method: str) -> dict[str, Any]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(graph, nodes, method, queue))
    process.start()
    process.join()
    if process.exitcode != 0:
        return {"error": f"exit code {process.exitcode}"}
    return queue.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--dense-limit-gb", type=float, default=6.0)
    args = parser.parse_args()
    rows = []
    for graph, nodes in (("cora", 2708), ("synthetic", 10_000), ("synthetic", args.nodes)):
        ours = measure(graph, nodes, "ours")
        dense_gb = 4 * nodes * nodes * 3 / 2**30  # distance, masked copy, bool masks
        if dense_gb <= args.dense_limit_gb:
            dense = measure(graph, nodes, "dense")
        else:
            dense = {"error": f"skipped: needs ~{dense_gb:.0f} GB > {args.dense_limit_gb} GB"}
        rows.append((graph, nodes, ours, dense))
    print(
        "| graph | nodes | ours s | ours peak MB | dense s | dense peak MB | time ratio | MADGap |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for graph, nodes, ours, dense in rows:
        if "error" in dense:
            dense_cells, ratio = f"{dense['error']} | - ", "-"
        else:
            dense_cells = f"{dense['seconds']:.2f} | {dense['peak_mb']:.0f}"
            ratio = f"{dense['seconds'] / ours['seconds']:.2f}x"
            assert abs(dense["gap"] - ours["gap"]) < 1e-4, (dense, ours)
        print(
            f"| {graph} | {nodes:,} | {ours['seconds']:.2f} | {ours['peak_mb']:.0f} | "
            f"{dense_cells} | {ratio} | {ours['gap']:.4f} |"
        )
    print(json.dumps([{"graph": g, "nodes": n, "ours": o, "dense": d} for g, n, o, d in rows]))
    for graph, nodes, ours, dense in rows:
        if "error" not in dense:
            ratio = dense["seconds"] / ours["seconds"]
            print(f"ratio time dense/ours {graph}-{nodes} = {ratio:.3f}")


if __name__ == "__main__":
    main()
