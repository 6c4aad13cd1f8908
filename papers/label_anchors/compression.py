"""Anchor-only context compression (Sec. 3.2): answer a query from the cached keys and values of
a few context tokens instead of the whole demonstration text.

The demonstrations are run once; in every layer only the keys/values of the positions ``keep``
stay in the cache, and each query is run on that cache alone. Methods:

* ``hidden_anchor``: keep the formatting and label-word tokens (and BOS),
  :meth:`Prompt.anchor_positions`;
* ``hidden_random``: keep the formatting tokens, but one random text token of each demonstration
  in place of its label word (:func:`random_keep`);
* ``hidden_random_top``: ``trials`` draws of ``hidden_random``, the one with the best label
  loyalty reported (ties: word loyalty, then the first draw) -- an upper bound on random
  choices, as the paper's best-of-random row;
* ``text_anchor``: a new prompt whose demonstrations keep only their formatting and label
  words as text (``"Review:\\nSentiment: Positive"``), run as ordinary ICL.

Positions: cached keys keep the positional information of their original positions (Llama
rotates keys before caching; GPT-2 adds absolute position embeddings to the input), and the
query tokens are run at their original positions ``context_length + i`` for every model family
(the official code shifts them only for GPT-J). With this choice, keeping every context
position reproduces full ICL exactly.

Public functions (the experiment calls these; all run under ``torch.inference_mode``):

* ``context_cache(setting, prompt, keep) -> DynamicCache``: the context's cache reduced to ``keep``;
* ``query_logits(setting, prompt, cache, keep_count) -> Tensor (V,)``: the query on that cache;
* ``random_keep(prompt, generator) -> list[int]``: Hidden_random's positions;
* ``text_anchor_prompt(setting, prompt, demonstrations=None) -> Prompt``: Text_anchor's prompt;
* ``compare_compression(setting, prompts, methods=METHODS, *, top_k=5, trials=10, generator)
  -> dict[str, dict[str, float]]``: per method, label / word loyalty against full ICL, accuracy,
  mean seconds per query and speed-up over full ICL; row ``"icl"`` holds full ICL's accuracy
  and time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from string import Formatter

import numpy as np
import torch
from torch import Tensor
from transformers import DynamicCache

from common.text.prompts import LABEL as LABEL_SLOT
from common.text.prompts import ICLTemplate
from papers.label_anchors.prompting import FORMAT, Prompt, build_prompt
from papers.label_anchors.scoring import label_loyalty, word_loyalty
from papers.label_anchors.setting import Setting

METHODS = ("hidden_anchor", "hidden_random", "hidden_random_top", "text_anchor")


@torch.inference_mode()
def context_cache(setting: Setting, prompt: Prompt, keep: Sequence[int]) -> DynamicCache:
    """Run the context ``ids[:context_length]`` once and keep, in every layer, the keys and
    values of the positions ``keep`` (Sec. 3.2, Hidden_anchor's pre-computed anchors)."""
    full = DynamicCache()
    setting.model(setting.ids(prompt)[:, : prompt.context_length], cache=full, use_cache=True)
    index = torch.tensor(list(keep), device=setting.device)
    cache = DynamicCache()
    for layer, stored in enumerate(full.layers):
        cache.update(stored.keys.index_select(-2, index), stored.values.index_select(-2, index),
                     layer)
    return cache


@torch.inference_mode()
def query_logits(setting: Setting, prompt: Prompt, cache: DynamicCache, keep_count: int
                 ) -> Tensor:
    """Next-token logits (V,) at q from the query tokens ``ids[context_length:]`` attending to
    the ``keep_count`` cached positions, at their original positions. The cache is cropped back
    afterwards, so one cache serves every query."""
    if cache.get_seq_length() != keep_count:
        raise ValueError(f"cache holds {cache.get_seq_length()} positions, not {keep_count}")
    query = setting.ids(prompt)[:, prompt.context_length :]
    length = query.shape[1]
    positions = torch.arange(prompt.context_length, prompt.context_length + length,
                             device=setting.device).unsqueeze(0)
    mask = torch.ones(1, keep_count + length, dtype=torch.long, device=setting.device)
    logits = setting.model(query, attention_mask=mask, position_ids=positions, cache=cache,
                           use_cache=True).logits
    cache.crop(-length)
    return logits[0, -1].float()


def random_keep(prompt: Prompt, generator: np.random.Generator) -> list[int]:
    """Hidden_random's positions (Sec. 3.2): the context's formatting tokens (and BOS) plus one
    text token drawn from each demonstration, in place of its label word."""
    drawn = [int(generator.choice(prompt.field_positions(k)))
             for k in range(len(prompt.label_positions))]
    formatting = [t for t in range(prompt.context_length) if prompt.roles[t] == FORMAT]
    return sorted(formatting + drawn)


def _without_fields(template: ICLTemplate) -> ICLTemplate:
    """``template`` with its text slots and the whitespace before them removed:
    ``"Review: {sentence}\\nSentiment: {label}"`` -> ``"Review:\\nSentiment: {label}"``."""
    parts = []
    for literal, name, _, _ in Formatter().parse(template.template):
        if name == "label":
            parts.append(literal + LABEL_SLOT)
        elif name is None:
            parts.append(literal)
        else:
            parts.append(literal.rstrip())
    return ICLTemplate("".join(parts), template.label_words, template.separator)


def text_anchor_prompt(setting: Setting, prompt: Prompt,
                       demonstrations: Sequence[Mapping[str, object]] | None = None) -> Prompt:
    """Text_anchor (Sec. 3.2): ``prompt``'s query after its demonstrations (default: the
    setting's) reduced to formatting and label words, e.g. ``"Review:\\nSentiment: Positive"``."""
    demos = setting.demonstrations if demonstrations is None else demonstrations
    context = build_prompt(setting.tokenizer, _without_fields(setting.template), demos, {},
                           setting.label_field, label_ids=setting.first_label_tokens)
    if context.demo_labels != prompt.demo_labels:
        raise ValueError(f"demonstration labels {context.demo_labels} are not the prompt's "
                         f"{prompt.demo_labels}: pass the prompt's demonstrations")
    n = context.context_length
    return Prompt(context.ids[:n] + prompt.ids[prompt.context_length :],
                  context.roles[:n] + prompt.roles[prompt.context_length :],
                  context.label_positions, context.demo_labels, n, prompt.query_label)


def _shared_context(prompts: Sequence[Prompt]) -> Prompt:
    """The first prompt, after checking that every prompt has the same context tokens."""
    first = prompts[0]
    context = first.ids[: first.context_length]
    for p in prompts:
        if p.ids[: p.context_length] != context:
            raise ValueError("compression needs one demonstration set: the prompts' contexts "
                             "differ")
    return first


def _timed(setting: Setting, prompts: Sequence[Prompt], run: Callable[[Prompt], Tensor]
           ) -> tuple[Tensor, float]:
    """Logits (N, V) of ``run`` on each prompt (batch 1) and its mean wall-clock seconds."""
    cuda = setting.device.type == "cuda"
    rows, total = [], 0.0
    for prompt in prompts:
        if cuda:
            torch.cuda.synchronize(setting.device)
        start = time.perf_counter()
        logits = run(prompt)
        if cuda:
            torch.cuda.synchronize(setting.device)
        total += time.perf_counter() - start
        rows.append(logits.cpu())
    return torch.stack(rows), total / len(prompts)


def _hidden(setting: Setting, prompts: Sequence[Prompt], keep: Sequence[int]
            ) -> tuple[Tensor, float]:
    """Logits and seconds per query of one kept set; building the cache is not timed."""
    cache = context_cache(setting, prompts[0], keep)
    return _timed(setting, prompts, lambda p: query_logits(setting, p, cache, len(keep)))


def _predictions(setting: Setting, logits: Tensor) -> Tensor:
    return setting.class_scores(logits).argmax(-1)


def _row(setting: Setting, logits: Tensor, seconds: float, reference: Tensor,
         reference_seconds: float, gold: Tensor, top_k: int) -> dict[str, float]:
    predicted = _predictions(setting, logits)
    return {
        "label_loyalty": label_loyalty(predicted, _predictions(setting, reference)),
        "word_loyalty": word_loyalty(logits, reference, top_k),
        "accuracy": float((predicted == gold).float().mean()),
        "seconds_per_query": seconds,
        "speedup": reference_seconds / seconds,
    }


@torch.inference_mode()
def compare_compression(setting: Setting, prompts: Sequence[Prompt],
                        methods: Sequence[str] = METHODS, *, top_k: int = 5, trials: int = 10,
                        generator: np.random.Generator) -> dict[str, dict[str, float]]:
    """Sec. 3.2's comparison on ``prompts`` (one shared demonstration set): for each method,
    label loyalty and top-``top_k`` word loyalty against full ICL, accuracy against the gold
    labels, mean seconds per query (batch 1; cache building excluded) and the speed-up over full
    ICL. Hidden methods also report ``kept_tokens``, ``hidden_random_top`` its ``best_trial``.
    One untimed forward warms the model up first."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown compression methods {sorted(unknown)}; choose from {METHODS}")
    context = _shared_context(prompts)
    gold = torch.tensor([p.query_label for p in prompts])
    setting.logits(context)
    full, full_seconds = _timed(setting, prompts, setting.logits)
    results = {"icl": {"accuracy": float((_predictions(setting, full) == gold).float().mean()),
                       "seconds_per_query": full_seconds,
                       "context_tokens": float(context.context_length)}}

    def score(logits: Tensor, seconds: float) -> dict[str, float]:
        return _row(setting, logits, seconds, full, full_seconds, gold, top_k)

    for method in methods:
        if method == "text_anchor":
            anchored = [text_anchor_prompt(setting, p) for p in prompts]
            results[method] = score(*_timed(setting, anchored, setting.logits))
        elif method == "hidden_random_top":
            draws = [random_keep(context, generator) for _ in range(trials)]
            rows = [score(*_hidden(setting, prompts, keep)) for keep in draws]
            best = max(range(trials),
                       key=lambda i: (rows[i]["label_loyalty"], rows[i]["word_loyalty"], -i))
            results[method] = {**rows[best], "kept_tokens": float(len(draws[best])),
                               "best_trial": float(best)}
        else:
            keep = (context.anchor_positions() if method == "hidden_anchor"
                    else random_keep(context, generator))
            results[method] = {**score(*_hidden(setting, prompts, keep)),
                               "kept_tokens": float(len(keep))}
    return results
