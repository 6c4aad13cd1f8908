"""The watermark's costs, each beside its straightforward reference, in one run.

    .venv/bin/python scripts/bench_watermark.py [--model smollm2-135m] [--tokens 60]
        [--prompts 2] [--beams 4] [--windows 190] [--loop-max-bits 14] [--threads 2]

1. Decoding, message scoring: seconds per text (``--windows`` windows, one segment) to score all
   2^L messages, vectorised (``message_counts``) vs one message at a time
   (``message_counts_loop``), L = 8..20 (the loop only up to ``--loop-max-bits``).
2. Decoding, Balance membership of R = 100 partitions per window on the model's real
   predictions: head-bounded (``balance_membership``) vs the encoder's full sort per partition.
3. Generation: seconds for ``--prompts`` prompts x ``--tokens`` tokens with ``--beams`` beams,
   and the ratio to unwatermarked generation, for Vanilla, Balance with the generator as its own
   proxy reading a 10-token window (the paper), Balance reusing the generator's forward pass
   (context=full), and Balance with a separate proxy of another tokenizer (tiny-gpt2).
"""

from __future__ import annotations

import argparse
import time

import torch

from common.text.data import dataset_by_name
from common.text.generation import generate
from common.text.models import load_by_name
from common.text.tokenizers import encode
from papers.watermark.code import Code
from papers.watermark.decoding import message_counts, message_counts_loop, window_seeds
from papers.watermark.partitions import balance_favoured, balance_membership
from papers.watermark.processors import CodableWatermark
from papers.watermark.proxy import Proxy, token_map


def timed(fn, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_counts(windows: int, loop_max_bits: int) -> None:
    print("\n## message scoring, one text of", windows, "windows (seconds)")
    print("| L | vectorised | per-message loop | ratio |\n| --- | --- | --- | --- |")
    gen = torch.Generator().manual_seed(0)
    for bits in range(8, 21, 2):
        code = Code(bits=bits)
        prev = torch.randint(0, 49152, (windows,), generator=gen)
        seeds, _ = window_seeds(prev, code)
        member = torch.rand(windows, code.partitions, generator=gen) < 0.5
        args = (member, seeds, bits, code.partitions)
        ours = timed(lambda args=args: message_counts(*args), 2)
        if bits <= loop_max_bits:
            loop = timed(lambda args=args: message_counts_loop(*args))
            print(f"| {bits} | {ours:.4f} | {loop:.3f} | {loop / ours:.0f}x |")
        else:
            print(f"| {bits} | {ours:.4f} | - | - |")


def bench_membership(model, ids: list[int], windows: int) -> float:
    code = Code()
    proxy = Proxy(model, None, code.prefix_len)
    ids_t = torch.tensor(ids[: windows + code.prefix_len])
    probs = proxy.window_probs(ids_t)
    _, perm = window_seeds(ids_t[code.prefix_len - 1:-1], code)
    cur = ids_t[code.prefix_len:]
    n = len(cur)
    ours = timed(lambda: torch.cat([balance_membership(probs[i:i + 16], perm[i:i + 16],
                                                      cur[i:i + 16]) for i in range(0, n, 16)]))
    sample = min(n, 8)
    full = timed(lambda: [balance_favoured(probs[w].expand(code.partitions, -1), perm[w])
                          for w in range(sample)]) * n / sample
    print(f"\n## Balance membership, {n} windows x R = {code.partitions} (seconds)")
    print("| head-bounded | full sort per partition (from", sample, "windows) | ratio |")
    print(f"| --- | --- | --- |\n| {ours:.3f} | {full:.2f} | {full / ours:.0f}x |")
    return full / ours


def bench_generation(model, tok, prompts: list[list[int]], tokens: int,
                     beams: int) -> dict[str, float]:
    code = Code(bits=10)
    messages = [[7] for _ in prompts]
    width = max(len(p) for p in prompts)
    other, other_tok = load_by_name("tiny-gpt2", head="causal_lm")
    variants = {
        "plain": lambda: [],
        "vanilla": lambda: [CodableWatermark(Code(method="vanilla", bits=10), messages, width,
                                             None, beams)],
        "balance, proxy = generator, window": lambda: [CodableWatermark(
            code, messages, width, Proxy(model, None, code.prefix_len), beams)],
        "balance, proxy = generator, full (reused forward)": lambda: [CodableWatermark(
            code, messages, width, Proxy(model, None, code.prefix_len, "full"), beams)],
        "balance, proxy = tiny-gpt2 (other tokenizer)": lambda: [CodableWatermark(
            code, messages, width, Proxy(other.eval(), token_map(tok, other_tok),
                                         code.prefix_len, fallback_id=other_tok.eos_token_id),
            beams)],
    }
    seconds = {}
    for name, make in variants.items():
        seconds[name] = timed(lambda make=make: generate(
            model, tok, prompts, max_new_tokens=tokens, num_beams=beams,
            batch_size=len(prompts), min_new_tokens=tokens, logits_processors=make()))
    print(f"\n## generation, {len(prompts)} prompts x {tokens} tokens, {beams} beams (seconds)")
    print("| variant | seconds | ratio to plain |\n| --- | --- | --- |")
    for name, s in seconds.items():
        print(f"| {name} | {s:.2f} | {s / seconds['plain']:.2f}x |")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--windows", type=int, default=190)
    parser.add_argument("--loop-max-bits", type=int, default=14)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bench_counts(args.windows, args.loop_max_bits)
    model, tok = load_by_name(args.model, head="causal_lm")
    model.eval()
    texts = dataset_by_name("reuters_modapte").load("test")["text"]
    encoded = [encode(tok, " ".join(t.split())) for t in texts[:50]]
    long = [ids for ids in encoded if len(ids) >= 300]
    membership = bench_membership(model, long[0][100:], args.windows)
    seconds = bench_generation(model, tok, [ids[:100] for ids in long[1:1 + args.prompts]],
                               args.tokens, args.beams)
    print(f"ratio membership_time full_sort/head_bounded = {membership:.3f}")
    print(f"ratio generation_time balance_window/plain = "
          f"{seconds['balance, proxy = generator, window'] / seconds['plain']:.3f}")


if __name__ == "__main__":
    main()
