"""The clean curvature's cost: the diagonal Fisher by per-example gradients, vectorised with
``torch.func`` (``vmap(grad(.))``) vs one ``backward`` per example, on the same model and
examples, each in a fresh process (time and the peak memory it adds), with their agreement.

    .venv/bin/python scripts/bench_fine_purifying.py [--model minilm-l6] [--examples 64]
        [--chunk 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time

import torch


def _setup(model_name: str, examples: int):
    from common.text.data import dataset_by_name
    from common.text.models import load_by_name

    torch.manual_seed(0)  # the same classifier head in both processes
    model, tok = load_by_name(model_name, head="sequence_classification", num_labels=2)
    rows = dataset_by_name("sst2").load("validation").select(range(examples))
    batches = []
    for start in range(0, examples, 16):
        part = rows.select(range(start, min(start + 16, examples)))
        enc = tok(list(part["sentence"]), padding=True, truncation=True, max_length=128,
                  return_tensors="pt")
        batches.append({**enc, "labels": torch.tensor(list(part["label"]))})
    names = [n for n, _ in model.named_parameters() if n.startswith("bert.")]
    return model, batches, names


def _child(method: str, model_name: str, examples: int, chunk: int, threads: int,
           out: str) -> None:
    from papers.fine_purifying.curvature import fisher_diagonal, fisher_diagonal_loop

    torch.set_num_threads(threads)
    model, batches, names = _setup(model_name, examples)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if method == "torch.func":
        fisher = fisher_diagonal(model, batches, names, chunk=chunk)
    else:
        fisher = fisher_diagonal_loop(model, batches, names)
    seconds = time.perf_counter() - start
    extra_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    torch.save((seconds, extra_mb, torch.cat([f.flatten() for f in fisher.values()])), out)


def run(method: str, args: argparse.Namespace) -> tuple[float, float, torch.Tensor]:
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/result.pt"
        proc = mp.get_context("spawn").Process(target=_child, args=(
            method, args.model, args.examples, args.chunk, args.threads, out))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"{method}: the measuring process failed ({proc.exitcode})")
        return torch.load(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", default="minilm-l6")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    results = {m: run(m, args) for m in ("torch.func", "loop")}
    fast, slow = results["torch.func"][2], results["loop"][2]
    rel = float((fast - slow).norm() / slow.norm())
    print(f"\n## diagonal Fisher, {args.model}, {args.examples} SST-2 sentences "
          f"({fast.numel():,} parameters)")
    print("| method | seconds | peak memory added (MB) |\n| --- | --- | --- |")
    for method, (seconds, extra, _) in results.items():
        print(f"| {method} (chunk {args.chunk}) | {seconds:.2f} | {extra:.0f} |"
              if method == "torch.func" else f"| {method} | {seconds:.2f} | {extra:.0f} |")
    print(f"\nrelative difference of the two estimates {rel:.1e}")
    speedup = results["loop"][0] / results["torch.func"][0]
    print(f"ratio fisher_time loop/torch.func = {speedup:.3f}")


if __name__ == "__main__":
    main()
