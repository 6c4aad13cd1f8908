"""Cost of label_anchors' attention hooks and the speed-up of hidden-anchor compression, as
ratios measured side by side in one run.

    .venv/bin/python scripts/bench_label_anchors.py [--model smollm2-135m] [--data trec]
        [--queries 20] [--shots 1,4] [--repeats 3] [--threads 1]

1. One ICL forward (batch 1) with transformers' eager attention, with ours
   (``papers.label_anchors.attention``, installed but no hook) and with sdpa: the ratio to eager
   (ours must cost about what eager costs, and give the same logits).
2. Per demonstration count: full ICL against the query run on the cached keys/values of the
   anchors only (Sec. 3.2, the cache built once and not timed): the speed-up (the paper's
   Table 3: 1.1x to 2.5x on GPT2-XL, more for longer contexts).

Every method is warmed up, then timed ``--repeats`` times interleaved; the best repeat counts.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from common.text.data import dataset_by_name
from common.text.models import load_by_name
from papers.label_anchors.attention import hooked
from papers.label_anchors.compression import context_cache, query_logits
from papers.label_anchors.setting import ICLParams, Setting, build_setting


def best_seconds(methods: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall-clock seconds of each zero-argument ``methods`` entry, interleaved."""
    for run in methods.values():
        run()
    best = {name: float("inf") for name in methods}
    for _ in range(repeats):
        for name, run in methods.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def attention_costs(setting: Setting, queries: int, repeats: int) -> dict[str, float]:
    prompts = setting.prompts()[:queries]
    model = setting.model

    def forward_all(implementation: str) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            model.set_attn_implementation(implementation)
            with torch.inference_mode():
                return torch.stack([setting.logits(p) for p in prompts])
        return run

    def ours() -> torch.Tensor:
        with torch.inference_mode(), hooked(model):
            return torch.stack([setting.logits(p) for p in prompts])

    eager = forward_all("eager")()
    gap = (ours() - eager).abs().max().item()
    times = best_seconds({"eager": forward_all("eager"), "ours (hooked)": ours,
                          "sdpa": forward_all("sdpa")}, repeats)
    model.set_attn_implementation("eager")
    print(f"\nattention, {len(prompts)} ICL forwards of {len(prompts[0].ids)} tokens "
          f"(max |ours - eager| logit {gap:.2e})")
    print("| attention | seconds per forward | ratio to eager |\n| --- | --- | --- |")
    for name, seconds in times.items():
        print(f"| {name} | {seconds / len(prompts):.4f} | {seconds / times['eager']:.2f} |")
    return times


def compression_speedups(setting: Setting, shots: list[int], queries: int,
                         repeats: int) -> dict[int, float]:
    print("\nhidden-anchor compression: full ICL vs the query on the anchors' cache")
    print("| demonstrations per class | context tokens | kept | full s/query | anchors s/query |"
          " speed-up |\n| --- | --- | --- | --- | --- | --- |")
    speedups = {}
    for k in shots:
        demos = setting.draw_demonstrations(k)
        prompts = [setting.prompt(ex, demos) for ex in setting.test[:queries]]
        keep = prompts[0].anchor_positions()
        kept = len(keep)
        cache = context_cache(setting, prompts[0], keep)

        def full(ps=prompts) -> None:
            with torch.inference_mode():
                for p in ps:
                    setting.logits(p)

        def anchors(ps=prompts, c=cache, n=kept) -> None:
            for p in ps:
                query_logits(setting, p, c, n)

        times = best_seconds({"full": full, "anchors": anchors}, repeats)
        print(f"| {k} | {prompts[0].context_length} | {kept} | "
              f"{times['full'] / len(prompts):.4f} | {times['anchors'] / len(prompts):.4f} | "
              f"{times['full'] / times['anchors']:.2f} |")
        speedups[k] = times["full"] / times["anchors"]
    return speedups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--data", default="trec")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--shots", default="1,4")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tok = load_by_name(args.model, head="causal_lm", attn_implementation="eager")
    setting = build_setting(model, tok, dataset_by_name(args.data),
                            ICLParams(test_size=args.queries), demo_seed=42, test_seed=42)
    print(f"{args.model} on {args.data}, {args.threads} thread(s), best of {args.repeats}")
    times = attention_costs(setting, args.queries, args.repeats)
    speedups = compression_speedups(setting, [int(s) for s in args.shots.split(",")],
                                    args.queries, args.repeats)
    print(f"ratio forward_time hooked/eager = {times['ours (hooked)'] / times['eager']:.3f}")
    for k, speedup in speedups.items():
        print(f"ratio query_time full/anchors k={k} = {speedup:.3f}")


if __name__ == "__main__":
    main()
