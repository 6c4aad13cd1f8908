"""Greedy generation speed of ``common.text.generation.generate`` against a bare
``model.generate`` and a bare forward loop with a KV cache, in one run: same model, prompt,
``max_new_tokens``, greedy; the three must produce the same tokens.

    .venv/bin/python scripts/bench_text.py [--model smollm2-135m] [--max-new-tokens 20]
        [--repeats 3] [--threads 1,2] [--batch 1]

Each method is warmed up once, then timed ``--repeats`` times, interleaved (ours, generate,
loop, ours, ...), and its best (fastest) repeat is reported: wall-clock tokens/s and the CPU
seconds the process used. Thread settings are measured in turn (``--threads``; default 1 and
torch's default), because intra-op threads decide the speed on a small CPU: on a 2-core machine
shared with another job, two threads spend most of a decoding step waiting for each other.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import DynamicCache

from common.text.generation import generate
from common.text.models import load_by_name
from common.text.tokenizers import encode, pad_batch


def ours(model, tok, prompts, max_new_tokens):
    out = generate(model, tok, prompts, max_new_tokens=max_new_tokens, batch_size=len(prompts))
    return [g.token_ids for g in out]


def bare_generate(model, tok, prompts, max_new_tokens):
    batch = pad_batch(tok, [encode(tok, p) for p in prompts], side="left")
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    return out[:, batch["input_ids"].shape[1]:].tolist()


def bare_loop(model, tok, prompts, max_new_tokens):
    """Prefill once, then one token per step through the KV cache; argmax on the last logits."""
    batch = pad_batch(tok, [encode(tok, p) for p in prompts], side="left")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    steps = []
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache,
                       use_cache=True, logits_to_keep=1).logits
        for _ in range(max_new_tokens):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            steps.append(nxt)
            if len(steps) == max_new_tokens:
                break
            mask = torch.cat([mask, mask.new_ones(len(prompts), 1)], dim=1)
            positions = positions[:, -1:] + 1
            logits = model(input_ids=nxt, attention_mask=mask, position_ids=positions,
                           cache=cache, use_cache=True).logits
    return torch.cat(steps, dim=1).tolist()


METHODS = {"ours": ours, "bare_generate": bare_generate, "bare_loop": bare_loop}


def measure(model, tok, prompts, max_new_tokens, repeats):
    """Per method: (best wall s, median wall s, CPU s of the best repeat, tokens)."""
    runs: dict[str, list[tuple[float, float]]] = {m: [] for m in METHODS}
    tokens = {}
    for name, fn in METHODS.items():  # warm-up (first-call allocations, lazy inits)
        tokens[name] = fn(model, tok, prompts, max_new_tokens)
    for _ in range(repeats):
        for name, fn in METHODS.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn(model, tok, prompts, max_new_tokens)
            runs[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    ref = tokens["bare_generate"]
    eos = tok.eos_token_id
    if any(eos in row for row in ref):
        raise SystemExit("the prompt reaches EOS before max_new_tokens: pick another --prompt")
    for name, got in tokens.items():
        if got != ref:
            raise SystemExit(f"{name} tokens differ from bare generate's:\n{got}\n{ref}")
    return {name: (min(r)[0], statistics.median(w for w, _ in r), min(r)[1])
            for name, r in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prompt", default="The capital of France is")
    parser.add_argument("--max-new-tokens", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1, help="copies of the prompt per call")
    parser.add_argument("--threads", default=None,
                        help="comma-separated torch intra-op thread counts (default: 1 and "
                             f"torch's default, {torch.get_num_threads()})")
    args = parser.parse_args()
    default = torch.get_num_threads()
    threads = ([int(t) for t in args.threads.split(",")] if args.threads
               else sorted({1, default}))
    model, tok = load_by_name(args.model)
    model.eval()
    prompts = [args.prompt] * args.batch
    n = args.max_new_tokens * args.batch
    print(f"{args.model}, greedy, {args.max_new_tokens} new tokens x {args.batch} prompt(s), "
          f"best of {args.repeats} (median in brackets), torch {torch.__version__}")
    for count in threads:
        torch.set_num_threads(count)
        result = measure(model, tok, prompts, args.max_new_tokens, args.repeats)
        print(f"threads={count}")
        for name, (best, median, cpu) in result.items():
            print(f"  {name:14s} {n / best:7.2f} tokens/s ({n / median:6.2f})  "
                  f"wall {best:6.2f} s  cpu {cpu:6.2f} s")
        speed = {name: n / best for name, (best, _, _) in result.items()}
        bare = max(speed["bare_generate"], speed["bare_loop"])
        print(f"ratio tokens_per_s ours/bare_generate = "
              f"{speed['ours'] / speed['bare_generate']:.3f}  (threads={count})")
        print(f"ratio tokens_per_s ours/best_bare = {speed['ours'] / bare:.3f}  "
              f"(threads={count})")
    torch.set_num_threads(default)


if __name__ == "__main__":
    main()
