"""Codable watermarking's evaluation (Wang et al., ICLR 2024, Sec. 5): embed -> attack -> decode
-> quality, for Balance-Marking, Vanilla-Marking and the zero-bit KGW reference.

``python -m common.run experiment=watermark/<name> [overrides]`` calls :func:`run_watermark`:

1. prompts: the first ``prompts.tokens`` generator tokens of articles from ``data`` (the human
   continuation, the next ``generation.new_tokens`` tokens, is kept for the false-positive and
   copy-paste checks); one random message per prompt (``segments`` L-bit integers);
2. embedding: unwatermarked generations, then every method at ``code.delta`` (with
   ``tradeoff``: every delta of ``deltas``, and KGW): success rate
   (every segment decoded exactly), bit accuracy, decoding confidence, and the perplexity of the
   continuation under an independent oracle LM; the generation-time ratio to the plain run;
3. ``human``: the decoder on human continuations and on unwatermarked generations
   (confidence distribution; success is chance, 2^-L);
4. ``robustness``: copy-paste and substitution attacks on the generations at ``code.delta``;
5. ``coding_rate``: generations at other tokens-per-bit ratios; bits per token at which the
   success rate is still >= ``coding_target``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from torch import Tensor
from transformers import LogitsProcessor

from common.context import RunContext
from common.params import ConfigError, check_choice, check_positive
from common.text.generation import generate
from common.text.models import load_by_name
from common.text.perplexity import conditional_perplexity
from common.text.tokenizers import encode
from papers.watermark import figures, kgw
from papers.watermark.attacks import copy_paste, substitute, substitution_positions
from papers.watermark.code import METHODS, Code, bit_accuracy
from papers.watermark.decoding import Decoded, decode
from papers.watermark.processors import (
    CodableWatermark,
    KGWWatermark,
    SubtractiveRepetitionPenalty,
    SuppressTokens,
)
from papers.watermark.proxy import CONTEXTS, Proxy, token_map

ANALYSES = ("tradeoff", "human", "robustness", "coding_rate")


@dataclass
class PromptParams:
    """Prompts: ``count`` articles of ``split`` with at least ``tokens`` + new_tokens tokens."""

    split: str = "test"
    count: int = 12
    tokens: int = 100


@dataclass
class GenerationParams:
    """The paper's decoding: 4 beams, subtractive repetition penalty 1.5, EOS suppressed."""

    new_tokens: int = 200
    num_beams: int = 4
    repetition_penalty: float = 1.5
    suppress_eos: bool = True
    batch_size: int = 4


@dataclass
class ProxyParams:
    """Balance-Marking's proxy LM: ``model`` null = the generator itself; ``context`` window
    (the paper: the last prefix_len tokens) or full (the generator's own distribution)."""

    model: str | None = None
    context: str = "window"
    head: int = 1024


@dataclass
class KGWParams:
    delta: float = 2.0
    gamma: float = 0.25


@dataclass
class AttackParams:
    copy_paste: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])
    substitution: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.2])
    substitution_model: str | None = None


@dataclass
class WatermarkTask:
    """``task:`` of watermark experiments."""

    analyses: list[str] = field(default_factory=lambda: list(ANALYSES))
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    deltas: list[float] = field(default_factory=lambda: [1.0, 1.5, 2.0, 3.0])
    code: Code = field(default_factory=Code)
    segments: int = 1
    prompts: PromptParams = field(default_factory=PromptParams)
    generation: GenerationParams = field(default_factory=GenerationParams)
    proxy: ProxyParams = field(default_factory=ProxyParams)
    kgw: KGWParams = field(default_factory=KGWParams)
    attacks: AttackParams = field(default_factory=AttackParams)
    encode_ratios: list[float] = field(default_factory=lambda: [5.0])
    coding_target: float = 0.9
    oracle: str = "gemma3-270m"

    def __post_init__(self) -> None:
        for i, name in enumerate(self.analyses):
            check_choice(f"task.analyses[{i}]", name, ANALYSES)
        for i, name in enumerate(self.methods):
            check_choice(f"task.methods[{i}]", name, METHODS)
        for i, d in enumerate(self.deltas):
            check_positive(f"task.deltas[{i}]", d, allow_zero=True)
        for i, r in enumerate(self.encode_ratios):
            check_positive(f"task.encode_ratios[{i}]", r)
        for key in ("segments", "prompts.count", "prompts.tokens", "generation.new_tokens",
                    "generation.num_beams", "generation.batch_size", "proxy.head"):
            obj = self
            for part in key.split("."):
                obj = getattr(obj, part)
            check_positive(f"task.{key}", obj)
        check_choice("task.proxy.context", self.proxy.context, CONTEXTS)
        if self.generation.new_tokens <= self.code.prefix_len:
            raise ConfigError("task.generation.new_tokens", f"{self.generation.new_tokens} <= "
                              f"code.prefix_len ({self.code.prefix_len}): nothing is watermarked",
                              "generate more tokens than the unwatermarked prefix")
        if not 0 < self.kgw.gamma < 1:
            raise ConfigError("task.kgw.gamma", f"{self.kgw.gamma} is not in (0, 1)",
                              "the green-list fraction, e.g. 0.25")
        for i, r in enumerate(self.attacks.copy_paste):
            if not 0 <= r < 1:
                raise ConfigError(f"task.attacks.copy_paste[{i}]", f"{r} is not in [0, 1)",
                                  "the human share of the pasted text")
        for i, r in enumerate(self.attacks.substitution):
            if not 0 <= r <= 1:
                raise ConfigError(f"task.attacks.substitution[{i}]", f"{r} is not in [0, 1]",
                                  "the share of tokens replaced")


@dataclass
class Prompt:
    ids: list[int]
    text: str
    human: list[int]


@dataclass
class Setting:
    """One generation run: ``name`` in the metrics, its processors, its generations."""

    name: str
    code: Code | None = None
    messages: list[list[int]] = field(default_factory=list)
    outputs: list[list[int]] = field(default_factory=list)
    seconds: float = 0.0
    decoded: list[list[Decoded]] = field(default_factory=list)


class Pipeline:
    """The run's models, prompts and messages, and the embed / decode / score steps."""

    def __init__(self, ctx: RunContext, task: WatermarkTask) -> None:
        self.ctx, self.task = ctx, task
        self.model, self.tokenizer = instantiate(ctx.cfg.model, head="causal_lm")
        self.model.to(ctx.device).eval()
        self.vocab_size = int(self.model.get_output_embeddings().weight.shape[0])
        self.proxy = self._proxy()
        self.oracle = load_by_name(task.oracle, head="causal_lm") if task.oracle else None
        if self.oracle is not None:
            self.oracle.model.to(ctx.device).eval()
        self.prompts = self._prompts()
        rng = ctx.rng("messages")
        self.messages = torch.randint(0, 1 << task.code.bits, (len(self.prompts), task.segments),
                                      generator=rng).tolist()
        self.eos = [self.tokenizer.eos_token_id] if task.generation.suppress_eos else []

    def _proxy(self) -> Proxy:
        task = self.task
        if task.proxy.model is None:
            return Proxy(self.model, None, task.code.prefix_len, task.proxy.context)
        if task.proxy.context == "full":
            raise ConfigError("task.proxy.context", "'full' reuses the generator's forward pass",
                              "set task.proxy.model=null or task.proxy.context=window")
        model, tok = load_by_name(task.proxy.model, head="causal_lm")
        model.to(self.ctx.device).eval()
        vocab_map = token_map(self.tokenizer, tok, self.vocab_size)
        fallback = tok.unk_token_id if tok.unk_token_id is not None else tok.eos_token_id
        return Proxy(model, vocab_map, task.code.prefix_len, "window", int(fallback))

    def _prompts(self) -> list[Prompt]:
        task, data = self.task, instantiate(self.ctx.cfg.data)
        rows = data.load(task.prompts.split)
        field_name = data.text_fields[0]
        order = torch.randperm(len(rows), generator=self.ctx.rng("split")).tolist()
        need = task.prompts.tokens + task.generation.new_tokens
        prompts: list[Prompt] = []
        for i in order:
            ids = encode(self.tokenizer, " ".join(str(rows[i][field_name]).split()))
            if len(ids) >= need:
                head = ids[:task.prompts.tokens]
                prompts.append(Prompt(head, self.tokenizer.decode(head),
                                      ids[task.prompts.tokens:need]))
            if len(prompts) == task.prompts.count:
                return prompts
        raise ConfigError("task.prompts.count", f"only {len(prompts)} texts of "
                          f"{task.prompts.split} have {need} tokens",
                          "lower task.prompts.count / tokens or generation.new_tokens")

    def processors(self, setting: Setting, index: Sequence[int], width: int
                   ) -> list[LogitsProcessor]:
        first: list[LogitsProcessor] = []
        if setting.code is not None:
            first = [CodableWatermark(setting.code, [setting.messages[i] for i in index], width,
                                      self.proxy, self.task.generation.num_beams)]
        elif setting.name == "kgw":
            first = [KGWWatermark(self.task.kgw.delta, self.task.kgw.gamma, self.task.code.key)]
        return [*first, SubtractiveRepetitionPenalty(self.task.generation.repetition_penalty),
                SuppressTokens(self.eos)]

    def run(self, setting: Setting) -> Setting:
        """Generate every prompt's continuation under ``setting`` (timed)."""
        gen = self.task.generation
        per_batch = gen.batch_size
        setting.messages = setting.messages or self.messages
        start = time.perf_counter()
        for first in self.ctx.progress(range(0, len(self.prompts), per_batch),
                                       desc=f"generate {setting.name}", leave=False):
            index = list(range(first, min(first + per_batch, len(self.prompts))))
            chunk = [self.prompts[i].ids for i in index]
            width = max(len(ids) for ids in chunk)
            out = generate(self.model, self.tokenizer, chunk, max_new_tokens=gen.new_tokens,
                           num_beams=gen.num_beams, batch_size=len(chunk),
                           logits_processors=self.processors(setting, index, width))
            setting.outputs.extend(g.token_ids for g in out)
        setting.seconds = time.perf_counter() - start
        return setting

    def decode(self, code: Code, ids: Sequence[int], context: Sequence[int] | None = None,
               one_segment: bool = False) -> list[Decoded]:
        if one_segment:
            code = dataclasses.replace(code, encode_ratio=1e9)
        ctx_ids = torch.as_tensor(context) if context is not None else None
        return decode(code, torch.as_tensor(ids), self.proxy, self.vocab_size, ctx_ids,
                      self.task.proxy.head)

    def perplexity(self, prompt: Prompt, ids: Sequence[int]) -> float:
        model, tok = self.oracle
        prompt_ids = encode(tok, prompt.text)
        continuation = tok(self.tokenizer.decode(ids), add_special_tokens=False)["input_ids"]
        return conditional_perplexity(model, prompt_ids, continuation)


def score_decoding(decoded: Sequence[Sequence[Decoded]], messages: Sequence[Sequence[int]],
                   bits: int) -> dict[str, float]:
    """Success (all segments exact), segment success, bit accuracy, mean confidence."""
    exact, segment_ok, bit_acc, confidence = [], [], [], []
    for found, true in zip(decoded, messages, strict=True):
        pairs = list(zip(found, true, strict=False))
        oks = [d.message == m for d, m in pairs]
        exact.append(all(oks) and len(found) >= len(true))
        segment_ok.extend(oks)
        bit_acc.extend(bit_accuracy(d.message, m, bits) for d, m in pairs)
        confidence.extend(d.confidence for d in found)
    return {"success": float(np.mean(exact)), "segment_success": float(np.mean(segment_ok)),
            "bit_acc": float(np.mean(bit_acc)), "confidence": float(np.mean(confidence))}


def _delta_name(method: str, delta: float) -> str:
    return f"{method}/delta{delta:g}"


def embed(pipe: Pipeline, plain: Setting) -> tuple[dict[str, float], dict[str, Setting]]:
    """Success / bit accuracy / PPL per method and delta (with ``tradeoff``: every delta of
    ``task.deltas`` and KGW; otherwise only ``code.delta``), timed against the plain run."""
    task, metrics = pipe.task, {}
    sweep = "tradeoff" in task.analyses
    settings: dict[str, Setting] = {}
    for method in task.methods:
        for delta in task.deltas if sweep else [task.code.delta]:
            code = dataclasses.replace(task.code, method=method, delta=delta)
            settings[_delta_name(method, delta)] = Setting(_delta_name(method, delta), code)
    if sweep:
        settings["kgw"] = Setting("kgw")
    for step, (name, setting) in enumerate(settings.items()):
        pipe.run(setting)
        row = quality(pipe, setting)
        if setting.code is not None:
            started = time.perf_counter()
            setting.decoded = [pipe.decode(setting.code, ids) for ids in setting.outputs]
            row.update(score_decoding(setting.decoded, setting.messages, setting.code.bits))
            row["time/decode_seconds"] = (time.perf_counter() - started) / len(setting.decoded)
        else:
            z = [kgw.z_score(torch.tensor(ids), task.kgw.gamma, task.code.key)
                 for ids in setting.outputs]
            row["z"] = float(np.mean(z))
            row["detected"] = float(np.mean(np.array(z) > 4.0))
        row["time/generation_ratio"] = setting.seconds / plain.seconds
        metrics.update({f"{name}/{k}": v for k, v in row.items()})
        pipe.ctx.tracker.log({f"{name}/{k}": v for k, v in row.items()}, step=step)
    return metrics, settings


def quality(pipe: Pipeline, setting: Setting) -> dict[str, float]:
    if pipe.oracle is None:
        return {}
    ppl = [pipe.perplexity(p, ids) for p, ids in zip(pipe.prompts, setting.outputs, strict=True)]
    return {"ppl": float(np.mean(ppl)), "ppl_median": float(np.median(ppl))}


def human(pipe: Pipeline, plain: Setting, watermarked: dict[str, Setting]) -> dict[str, float]:
    """Decoder confidence on human continuations and unwatermarked generations, against the
    watermarked texts at ``code.delta``; KGW's z on human text."""
    task, metrics = pipe.task, {}
    for method in task.methods:
        code = dataclasses.replace(task.code, method=method)
        for source, texts in (("human", [p.human for p in pipe.prompts]),
                              ("plain", plain.outputs)):
            decoded = [pipe.decode(code, ids) for ids in texts]
            conf = np.array([d.confidence for found in decoded for d in found])
            hit = score_decoding(decoded, pipe.messages, code.bits)["success"]
            metrics.update({f"human/{method}/{source}_confidence": float(conf.mean()),
                            f"human/{method}/{source}_confidence_max": float(conf.max()),
                            f"human/{method}/{source}_success": hit})
        marked = watermarked.get(_delta_name(method, task.code.delta))
        if marked is not None:
            conf = np.array([d.confidence for found in marked.decoded for d in found])
            metrics[f"human/{method}/above_human_max"] = float(
                (conf > metrics[f"human/{method}/human_confidence_max"]).mean())
    z = [kgw.z_score(torch.tensor(p.human), task.kgw.gamma, task.code.key) for p in pipe.prompts]
    metrics["human/kgw/z"] = float(np.mean(z))
    return metrics


def robustness(pipe: Pipeline, settings: dict[str, Setting]) -> dict[str, float]:
    """Copy-paste and substitution at ``code.delta``: success, bit accuracy (one segment)."""
    task, metrics = pipe.task, {}
    attacker = pipe.model
    if task.attacks.substitution_model:
        attacker = load_by_name(task.attacks.substitution_model, head="causal_lm").model
        attacker.to(pipe.ctx.device).eval()
    n = len(pipe.prompts)
    human_pool = [torch.tensor([t for j in range(1, n) for t in pipe.prompts[(i + j) % n].human])
                  for i in range(n)]
    for method in task.methods:
        setting = settings.get(_delta_name(method, task.code.delta))
        if setting is None:
            continue
        attacks: dict[str, Callable[[int, Tensor], Tensor]] = {}
        for r in task.attacks.copy_paste:
            attacks[f"copy_paste{r:g}"] = lambda i, ids, r=r: copy_paste(ids, human_pool[i], r)
        for r in task.attacks.substitution:
            attacks[f"substitution{r:g}"] = lambda i, ids, r=r: substitute(
                attacker, ids, substitution_positions(len(ids), r, pipe.ctx.rng("attack", i)))
        for name, attack in attacks.items():
            decoded = [pipe.decode(setting.code, attack(i, torch.tensor(ids)), one_segment=True)
                       for i, ids in enumerate(setting.outputs)]
            row = score_decoding(decoded, [m[:1] for m in setting.messages], setting.code.bits)
            metrics.update({f"robust/{method}/{name}/{k}": row[k] for k in ("success", "bit_acc")})
    return metrics


def coding_rate(pipe: Pipeline, found: dict[str, float]) -> dict[str, float]:
    """Success against tokens per bit (Sec. 5.3): the default ratio's run plus
    ``encode_ratios`` (each text carries as many L-bit segments as fit, every one must decode);
    the coding rate is the most bits per token with success >= target."""
    task, metrics = pipe.task, {}
    for method in task.methods:
        rates: dict[float, float] = {}
        base = f"{_delta_name(method, task.code.delta)}/success"
        if base in found:
            rates[task.code.encode_ratio] = found[base]
            metrics[f"coding/{method}/ratio{task.code.encode_ratio:g}/success"] = found[base]
        for ratio in task.encode_ratios:
            code = dataclasses.replace(task.code, method=method, encode_ratio=ratio)
            segments = code.segments_for(task.generation.new_tokens)
            messages = torch.randint(0, 1 << code.bits, (len(pipe.prompts), segments),
                                     generator=pipe.ctx.rng("messages", segments)).tolist()
            setting = pipe.run(Setting(f"{method}/ratio{ratio:g}", code, messages))
            decoded = [pipe.decode(code, ids) for ids in setting.outputs]
            rates[ratio] = score_decoding(decoded, setting.messages, code.bits)["success"]
            metrics[f"coding/{method}/ratio{ratio:g}/success"] = rates[ratio]
        good = [1.0 / r for r, s in rates.items() if s >= task.coding_target]
        metrics[f"coding/{method}/bits_per_token"] = max(good) if good else 0.0
    return metrics


def run_watermark(ctx: RunContext, task: WatermarkTask) -> dict[str, float]:
    """The analyses of ``task.analyses`` (module docstring); plots and generations saved."""
    if task.segments > task.code.segments_for(task.generation.new_tokens):
        raise ConfigError("task.segments", f"{task.segments} segments need more than "
                          f"{task.generation.new_tokens} tokens at encode_len "
                          f"{task.code.encode_len}", "lower task.segments or code.encode_ratio")
    pipe = Pipeline(ctx, task)
    plain = pipe.run(Setting("plain"))
    metrics: dict[str, float] = {f"plain/{k}": v for k, v in quality(pipe, plain).items()}
    metrics["plain/time/seconds_per_token"] = plain.seconds / (
        len(pipe.prompts) * task.generation.new_tokens)
    found, settings = embed(pipe, plain)
    metrics.update(found)
    if "human" in task.analyses:
        metrics.update(human(pipe, plain, settings))
    if "robustness" in task.analyses:
        metrics.update(robustness(pipe, settings))
    if "coding_rate" in task.analyses:
        metrics.update(coding_rate(pipe, found))
    metrics.update(glance(task, metrics))
    save(ctx, pipe, plain, settings, metrics)
    return metrics


def glance(task: WatermarkTask, metrics: dict[str, float]) -> dict[str, float]:
    """The demo's claim: each method's success and PPL at ``code.delta``."""
    out = {}
    for method in task.methods:
        for key in ("success", "ppl"):
            value = metrics.get(f"{_delta_name(method, task.code.delta)}/{key}")
            if value is not None:
                out[f"glance/{method}_{key}"] = value
    return out


def save(ctx: RunContext, pipe: Pipeline, plain: Setting, settings: dict[str, Setting],
         metrics: dict[str, float]) -> None:
    tok = pipe.tokenizer
    rows: list[dict[str, Any]] = []
    for setting in [plain, *settings.values()]:
        for i, ids in enumerate(setting.outputs):
            rows.append({"setting": setting.name, "prompt": pipe.prompts[i].text,
                         "message": setting.messages[i] if setting.code else None,
                         "text": tok.decode(ids)})
    (ctx.run_dir / "generations.json").write_text(json.dumps(rows, indent=1))
    if any(k.endswith("/success") for k in metrics):
        ctx.tracker.log_image("tradeoff", figures.tradeoff(
            metrics, pipe.task.methods, pipe.task.deltas, ctx.run_dir / "tradeoff.png"))
    if any(k.startswith("robust/") for k in metrics):
        ctx.tracker.log_image("robustness", figures.robustness(
            metrics, pipe.task.methods, pipe.task.attacks, ctx.run_dir / "robustness.png"))
