"""How well the paper's layer count predicts the measured speed-up, for the cascade and for an
early-exit model, side by side in one run.

    .venv/bin/python scripts/bench_cascadebert.py [--small minilm-l6:2] [--large minilm-l6]
        [--data sst2] [--examples 512] [--batch 64] [--repeats 3] [--threads 2]

For escalation shares (the cascade: the share of examples the small model passes on) and exit
depths (an early-exit model: every example stops at layer d), it prints the speed-up over the
large model alone counted in layers, in FLOPs (each example's own length) and measured in
wall-clock seconds (best of ``--repeats``). Untrained heads: only the cost is measured.
"""

from __future__ import annotations

import argparse

import torch

from common.text.classification import tokenize
from common.text.data import dataset_by_name
from common.text.models import load_by_name
from papers.cascadebert.cascade import run_costs, speedup
from papers.cascadebert.evaluation import Shape, forward_all, forward_exits, timed
from papers.cascadebert.experiment import eval_batches
from papers.cascadebert.models import CompleteModel, MultiExitModel


def _model(spec: str, num_labels: int) -> tuple[CompleteModel, object]:
    name, _, layers = spec.partition(":")
    options = {"num_hidden_layers": int(layers)} if layers else {}
    encoder, tok = load_by_name(name, head="base", **options)
    return CompleteModel(encoder, num_labels).eval(), tok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--small", default="minilm-l6:2")
    parser.add_argument("--large", default="minilm-l6")
    parser.add_argument("--data", default="sst2")
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = dataset_by_name(args.data)
    rows = data.load("validation").select(range(args.examples))
    small, small_tok = _model(args.small, 2)
    large, large_tok = _model(args.large, 2)
    device = torch.device("cpu")
    sets = {}
    for name, tok in (("small", small_tok), ("large", large_tok)):
        ds = tokenize(rows, tok, data.text_fields, data.label_field)
        sets[name] = (ds, tok, torch.tensor([len(ids) for ids in ds["input_ids"]]))
    small_shape, large_shape = Shape.of(small), Shape.of(large)
    ref_flops = large_shape.flops(sets["large"][2], large_shape.layers)
    large_batches = eval_batches(sets["large"][0], large_tok, args.batch, device)
    small_batches = eval_batches(sets["small"][0], small_tok, args.batch, device)
    forward_all(large, large_batches)
    large_seconds = timed(lambda: forward_all(large, large_batches), device, args.repeats)
    print(f"{args.small} -> {args.large} on {args.examples} {args.data} examples, batch "
          f"{args.batch}, {args.threads} thread(s); large alone {large_seconds:.3f} s\n")
    print("| cascade: escalated share | layers | FLOPs | wall-clock |\n| --- | --- | --- | --- |")
    gen = torch.Generator().manual_seed(0)
    flops = torch.stack([small_shape.flops(sets["small"][2], small_shape.layers),
                         large_shape.flops(sets["large"][2], large_shape.layers)])
    wall_clock = {}
    for share in (0.0, 0.1, 0.25, 0.5):
        exits = (torch.rand(args.examples, generator=gen) < share).long()
        escalated = exits.nonzero().flatten().tolist()
        chosen = (eval_batches(sets["large"][0].select(escalated), large_tok, args.batch, device)
                  if escalated else [])
        seconds = timed(lambda c=chosen: (forward_all(small, small_batches),
                                          forward_all(large, c)), device, args.repeats)
        layers = run_costs(torch.tensor([float(small_shape.layers),
                                         float(large_shape.layers)]), exits)
        wall_clock[share] = large_seconds / seconds
        print(f"| {share:.2f} | {speedup(float(large_shape.layers), layers):.2f} | "
              f"{float(ref_flops.sum() / run_costs(flops, exits).sum()):.2f} | "
              f"{wall_clock[share]:.2f} |")
    exits_model = MultiExitModel(large.encoder, 2, shared_pooler=True).eval()
    print("\n| early exit: every example stops at layer | layers | FLOPs | wall-clock |\n"
          "| --- | --- | --- | --- |")
    for depth in range(1, large_shape.layers + 1):
        groups = {depth: large_batches}
        seconds = timed(lambda g=groups: forward_exits(exits_model, g), device, args.repeats)
        cost = large_shape.flops(sets["large"][2], depth, exits=depth)
        print(f"| {depth} | {large_shape.layers / depth:.2f} | "
              f"{float(ref_flops.sum() / cost.sum()):.2f} | {large_seconds / seconds:.2f} |")
    for share, ratio in wall_clock.items():
        print(f"ratio wall_clock large/cascade escalated={share:.2f} = {ratio:.3f}")


if __name__ == "__main__":
    main()
