"""Totoro cost: the official dense PPR inverse vs ReNode's sparse labelled-row power iteration.

    .venv/bin/python scripts/bench_renode.py [--sizes 10000 50000 200000] [--out bench.json]

For Cora, CiteSeer (offline mirror, via common.graph.data) and synthetic planted-partition graphs
(avg degree 10, 10 classes), each with a TINL labelled set (20 per class), it times the per-node
Totoro computed from (a) the dense N x N inverse Π = α(I - (1-α)Â)^{-1} (official; skipped where
it does not fit in memory) and (b) power iteration for the labelled rows only (both from
common.graph.ppr), each in a fresh subprocess so the peak memory (max RSS above the process's
size before the computation) is its own. Prints one markdown table: time, peak memory,
dense/ours time ratio and max |ΔT_v|.
BENCH_THREADS=n sets torch's thread count in the measuring processes (default: torch's own).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.graph.ppr import dense_ppr, ppr_rows  # noqa: E402
from papers.renode.splits import tinl_split  # noqa: E402
from papers.renode.synthetic import planted_partition_graph  # noqa: E402
from papers.renode.totoro import node_totoro  # noqa: E402


def load(graph: str):
    if graph.startswith("synthetic"):
        return planted_partition_graph(int(graph.split("-")[1]), seed=0)
    from common.graph.data import load_planetoid

    return load_planetoid(graph)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(graph: str, method: str) -> dict:
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    data = load(graph)
    num_classes = int(data.y.max()) + 1
    labelled = tinl_split(data.y, num_classes, seed=0).train
    labels = data.y[labelled]
    before = rss_mb()
    start = time.perf_counter()
    if method == "dense":
        rows = dense_ppr(data.edge_index, data.num_nodes)[labelled]
    else:
        rows = ppr_rows(data.edge_index, data.num_nodes, labelled)
    totoro = node_totoro(rows, labels, num_classes)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "graph": graph,
        "method": method,
        "nodes": data.num_nodes,
        "edges": int(data.edge_index.size(1)),
        "labelled": len(labelled),
        "seconds": seconds,
        "peak_mb": max(peak - before, 0.0),
        "totoro": totoro.tolist(),
    }


def dense_fits(num_nodes: int) -> bool:
    """The dense path holds about four N x N float32 matrices at once."""
    need = 4 * num_nodes**2 * 4
    avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return need < 0.7 * avail


def run_child(graph: str, method: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", graph, method],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 50_000, 200_000])
    parser.add_argument("--planetoid", nargs="*", default=["cora", "citeseer"])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("GRAPH", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return
    graphs = [*args.planetoid, *(f"synthetic-{n}" for n in args.sizes)]
    rows = []
    for graph in graphs:
        ours = run_child(graph, "power")
        dense = run_child(graph, "dense") if dense_fits(ours["nodes"]) else None
        row = {k: ours[k] for k in ("graph", "nodes", "edges", "labelled")}
        row.update(ours_s=ours["seconds"], ours_mb=ours["peak_mb"])
        if dense is not None:
            diff = (torch.tensor(dense["totoro"]) - torch.tensor(ours["totoro"])).abs().max()
            row.update(
                dense_s=dense["seconds"],
                dense_mb=dense["peak_mb"],
                ratio=dense["seconds"] / ours["seconds"],
                max_abs_diff=float(diff),
            )
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    columns = ["graph", "nodes", "edges", "labelled", "dense s", "dense MB", "ours s", "ours MB"]
    print("| " + " | ".join([*columns, "dense/ours", "max abs ΔT"]) + " |")
    print("|" + " --- |" * 10)
    for r in rows:
        dense_cells = (
            f"{r['dense_s']:.2f} | {r['dense_mb']:.0f} | "
            if "dense_s" in r
            else "does not fit | - | "
        )
        tail = f"{r['ratio']:.1f}x | {r['max_abs_diff']:.1e}" if "ratio" in r else "- | -"
        print(
            f"| {r['graph']} | {r['nodes']} | {r['edges']} | {r['labelled']} | {dense_cells}"
            f"{r['ours_s']:.2f} | {r['ours_mb']:.0f} | {tail} |"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    for r in rows:
        if "ratio" in r:
            print(f"ratio time dense/ours {r['graph']} = {r['ratio']:.3f}")


if __name__ == "__main__":
    main()
