"""ESFT's experiments (Wang et al., EMNLP 2024).

``experiment=esft/pretrain`` (:func:`run_esft_pretrain`): pretrain the miniature (or reuse the
cached one) and measure how concentrated its routing is per domain (the paper's Fig. 2 finding).

``experiment=esft/<name>`` (:func:`run_esft`), per downstream task of ``tasks``:

1. probe the frozen backbone on ``probe_size`` training examples and score every expert of every
   MoE layer (average gate score, token selection ratio; §3.2);
2. select experts per layer up to the cumulative thresholds ``p_gate`` / ``p_token``;
3. train each method of ``methods`` for ``steps`` optimizer steps of ``batch_size`` (matched
   budgets) from the same backbone, then measure exact match on the task's test set, general
   ability on the held-out pretraining domains, trainable parameters, checkpoint bytes and
   training time.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import nn

from common.context import RunContext
from common.optim import build_optimizer
from common.params import ConfigError, check_choice, check_positive
from common.training import SeededBatches, Trainer
from papers.esft import figures
from papers.esft.backbone import Backbone, PretrainParams, load_backbone
from papers.esft.corpus import TASKS, task_splits
from papers.esft.finetune import (
    collate,
    encode_example,
    exact_match,
    general_ability,
    general_rows,
    with_lora,
)
from papers.esft.freezing import count_trainable, save_esft, to_esft
from papers.esft.routing import (
    concentration,
    moe_routers,
    overlap,
    probe_scores,
    random_like,
    select_all,
)

METHODS = ("vanilla", "fft", "lora", "esft_token", "esft_gate", "esft_token_random",
           "esft_gate_random", "esft_token_shared", "esft_gate_shared")
LR_GROUPS = ("esft", "fft", "lora")


@dataclass
class EsftTask:
    """``task:`` of the ESFT experiments (see the module docstring); learning rates per method
    family in ``lr`` (``esft``, ``fft``, ``lora``), the share of general data mixed into each
    family's batches in ``mix_general`` (the paper: 1:1 for FFT and LoRA, none for ESFT), as
    rows of ``general_len`` tokens (about a task example's length, so a mixed batch costs what
    a task batch costs, as the paper's packed sequences do)."""

    pretrain: PretrainParams = field(default_factory=PretrainParams)
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    train_size: int = 4000
    test_size: int = 300
    probe_size: int = 256
    p_gate: float = 0.1
    p_token: float = 0.2
    steps: int = 500
    batch_size: int = 16
    lr: dict[str, float] = field(default_factory=lambda: {"esft": 1e-3, "fft": 1e-3,
                                                          "lora": 3e-3})
    mix_general: dict[str, float] = field(default_factory=lambda: {"esft": 0.0, "fft": 0.5,
                                                                   "lora": 0.5})
    general_len: int = 32
    lora_rank: int = 8
    lora_alpha: int = 16
    max_new_tokens: int = 40

    def __post_init__(self) -> None:
        for i, t in enumerate(self.tasks):
            check_choice(f"task.tasks[{i}]", t, TASKS)
        for i, m in enumerate(self.methods):
            check_choice(f"task.methods[{i}]", m, METHODS)
        for key in ("p_gate", "p_token"):
            if not 0 < getattr(self, key) <= 1:
                raise ConfigError(f"task.{key}", f"{getattr(self, key)} is not in (0, 1]",
                                  "the cumulative score threshold, e.g. 0.1")
        for name in ("lr", "mix_general"):
            if sorted(getattr(self, name)) != sorted(LR_GROUPS):
                raise ConfigError(f"task.{name}", f"has keys {sorted(getattr(self, name))}",
                                  f"give one value per method family {list(LR_GROUPS)}")
        for fam, lr in self.lr.items():
            check_positive(f"task.lr.{fam}", lr)
        for family, share in self.mix_general.items():
            if not 0 <= share < 1:
                raise ConfigError(f"task.mix_general.{family}", f"{share} is not in [0, 1)",
                                  "the general share of the training rows, e.g. 0.5")
        for key in ("train_size", "test_size", "probe_size", "steps", "batch_size",
                    "lora_rank", "lora_alpha", "max_new_tokens", "general_len"):
            check_positive(f"task.{key}", getattr(self, key))
        if self.pretrain.seq_len % self.general_len:
            raise ConfigError("task.general_len", f"{self.general_len} does not divide "
                              f"task.pretrain.seq_len={self.pretrain.seq_len}",
                              "pick a divisor, e.g. 32 for 128")


def family(method: str) -> str:
    return "fft" if method == "fft" else "lora" if method == "lora" else "esft"


def run_esft_pretrain(ctx: RunContext, task: EsftTask) -> dict[str, float]:
    """Pretrain (or load) the miniature; general ability and per-domain routing concentration."""
    start = time.perf_counter()
    backbone = load_backbone(ctx, task.pretrain)
    metrics: dict[str, float] = {"time/pretrain_s": time.perf_counter() - start}
    metrics.update({f"general/{k}": v for k, v in backbone.general.items()})
    metrics.update(routing_report(ctx, backbone, task))
    return metrics


def routing_report(ctx: RunContext, backbone: Backbone, task: EsftTask) -> dict[str, float]:
    """Token selection ratios per domain and task (probed like ESFT's scores), the share of
    routing the top-K experts hold (uniform: K / E), the overlap of every two profiles (1:
    identical routing) and the routing heat map."""
    model, tok = backbone.model, backbone.tokenizer
    top_k = next(iter(moe_routers(model).values())).top_k
    profiles: dict[str, dict[int, torch.Tensor]] = {}
    for domain, seqs in backbone.general_heldout.items():
        batches = [{"input_ids": s.to(ctx.device), "attention_mask": torch.ones_like(s).to(
            ctx.device)} for s in seqs.split(16)]
        profiles[domain] = probe_scores(model, batches)["token"]
    for name in task.tasks:
        train, _ = task_splits(name, task.probe_size, 1, ctx.seed_for("task"))
        profiles[f"task:{name}"] = probe_scores(model, probe_batches(tok, train, ctx.device))[
            "token"]
    metrics: dict[str, float] = {}
    for name, layers in profiles.items():
        shares = [concentration(r, top_k) for r in layers.values()]
        metrics[f"routing/{name}/top{top_k}_share"] = sum(shares) / len(shares)
    names = list(profiles)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = [overlap(profiles[a][layer], profiles[b][layer]) for layer in profiles[a]]
            metrics[f"routing/overlap/{a}~{b}"] = sum(shared) / len(shared)
    experts = len(next(iter(next(iter(profiles.values())).values())))
    metrics["routing/uniform_share"] = top_k / experts
    ctx.tracker.log_image("routing", figures.routing_heatmap(profiles, ctx.run_dir /
                                                             "routing.png"))
    return metrics


def probe_batches(tokenizer, examples, device: torch.device, size: int = 16
                  ) -> list[dict[str, torch.Tensor]]:
    """Prompt + answer of each example (what ESFT probes with: the task's training data)."""
    pad = collate(tokenizer.pad_token_id, device)
    rows = [encode_example(tokenizer, ex) for ex in examples]
    return [{k: v for k, v in pad(rows[i:i + size]).items() if k != "labels"}
            for i in range(0, len(rows), size)]


class Study:
    """One task: its data, expert scores and selections, and the methods trained on it."""

    def __init__(self, ctx: RunContext, task: EsftTask, backbone: Backbone, name: str):
        self.ctx, self.task, self.backbone, self.name = ctx, task, backbone, name
        self.train, self.test = task_splits(name, task.train_size, task.test_size,
                                            ctx.seed_for("task"))
        probe = probe_batches(backbone.tokenizer, self.train[:task.probe_size], ctx.device)
        self.scores = probe_scores(backbone.model, probe)
        num_experts = len(next(iter(self.scores["gate"].values())))
        token = select_all(self.scores["token"], task.p_token)
        gate = select_all(self.scores["gate"], task.p_gate)
        gen = ctx.rng("random_experts", TASKS.index(name))
        self.selections = {"esft_token": token, "esft_gate": gate,
                           "esft_token_random": random_like(token, num_experts, gen),
                           "esft_gate_random": random_like(gate, num_experts, gen)}

    @cached_property
    def task_rows(self) -> list[dict[str, list[int]]]:
        """The training examples tokenised once (every method trains on them)."""
        return [encode_example(self.backbone.tokenizer, ex) for ex in self.train]

    def rows(self, method: str) -> list[dict[str, list[int]]]:
        """The task rows, plus general rows making up ``mix_general`` of the total."""
        rows = list(self.task_rows)
        share = self.task.mix_general[family(method)]
        if share > 0:
            general = torch.cat(list(self.backbone.general_train.values())).reshape(
                -1, self.task.general_len)
            n = min(len(general), round(len(rows) * share / (1 - share)))
            pick = torch.randperm(len(general), generator=self.ctx.rng("mix"))[:n]
            rows += general_rows(general[pick])
        return rows

    def prepare(self, method: str) -> nn.Module:
        """A copy of the backbone set up for ``method``."""
        model = copy.deepcopy(self.backbone.model)
        if method == "fft":
            for p in model.parameters():
                p.requires_grad_(True)
            return model
        if method == "lora":
            return with_lora(model, self.task.lora_rank, self.task.lora_alpha)
        base = method.removesuffix("_shared")
        return to_esft(model, self.selections[base], train_shared=method.endswith("_shared"))

    def run(self, method: str) -> tuple[dict[str, float], nn.Module]:
        ctx, task, tok = self.ctx, self.task, self.backbone.tokenizer
        metrics: dict[str, float] = {}
        if method == "vanilla":
            model = self.backbone.model
        else:
            with ctx.seeded("method", METHODS.index(method)):
                model = self.prepare(method)
            model.train()
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = build_optimizer(ctx.cfg.optim, params, lr=task.lr[family(method)])
            trainer = Trainer.from_context(
                ctx, name=f"{self.name}/{method}", model=model, optimizer=optimizer,
                loss_fn=lambda m, batch: m(**batch),
                train_data=SeededBatches(self.rows(method), task.batch_size,
                                         seed=ctx.seed_for("shuffle"),
                                         collate_fn=collate(tok.pad_token_id, ctx.device)),
                unit="step", max_steps=task.steps, max_epochs=None, eval_every=task.steps,
                checkpoint_every=0, log_every=max(1, task.steps // 10), monitor=None,
                restore_best=False, log_prefix=f"{self.name}/{method}/")
            start = time.perf_counter()
            trainer.fit()
            metrics["time/train_s"] = time.perf_counter() - start
            metrics["trainable"] = float(count_trainable(model))
            metrics["checkpoint_bytes"] = float(self.save(method, model))
            if method in self.selections or method.endswith("_shared"):
                chosen = self.selections[method.removesuffix("_shared")]
                metrics["experts_per_layer"] = sum(map(len, chosen.values())) / len(chosen)
        em, _ = exact_match(model, tok, self.test, task.max_new_tokens)
        metrics["em"] = em
        general = (self.backbone.general if method == "vanilla"
                   else general_ability(model, self.backbone.general_heldout))
        metrics.update({f"general/{k}": v for k, v in general.items()})
        return metrics, model

    def save(self, method: str, model: nn.Module) -> int:
        """Write what a user would keep of ``method`` (FFT: the whole model; LoRA: the adapters;
        ESFT: the trained experts) and return its size in bytes."""
        folder = self.ctx.path("checkpoints", self.name, method)
        if method.startswith("esft"):
            return save_esft(model, folder.with_suffix(".safetensors"))
        model.save_pretrained(str(folder))
        return sum(f.stat().st_size for f in folder.rglob("*.safetensors"))


def run_esft(ctx: RunContext, task: EsftTask) -> dict[str, float]:
    """Every method on every task (module docstring); averages over tasks per method."""
    backbone = load_backbone(ctx, task.pretrain)
    metrics: dict[str, float] = {"data/total_params": float(sum(
        p.numel() for p in backbone.model.parameters()))}
    step = 0
    for name in task.tasks:
        study = Study(ctx, task, backbone, name)
        for kind, selection in study.selections.items():
            if kind in ("esft_token", "esft_gate"):
                metrics[f"{name}/{kind}/experts_per_layer"] = sum(
                    map(len, selection.values())) / len(selection)
        for method in ctx.progress(task.methods, desc=name):
            found, _ = study.run(method)
            found = {f"{name}/{method}/{k}": v for k, v in found.items()}
            metrics.update(found)
            ctx.tracker.log(found, step=step)
            step += 1
    for method in task.methods:
        for key in ("em", "general/acc", "time/train_s", "trainable", "checkpoint_bytes"):
            values = [metrics[f"{t}/{method}/{key}"] for t in task.tasks
                      if f"{t}/{method}/{key}" in metrics]
            if values:
                metrics[f"avg/{method}/{key}"] = sum(values) / len(values)
    metrics.update(glance(metrics))
    return metrics


def glance(metrics: dict[str, float]) -> dict[str, float]:
    """Task and general averages of vanilla, FFT, LoRA, ESFT-Token and ESFT-Gate."""
    return {f"glance/{m}_{short}": metrics[f"avg/{m}/{key}"]
            for m in ("vanilla", "fft", "lora", "esft_token", "esft_gate")
            for short, key in (("task", "em"), ("general", "general/acc"))
            if f"avg/{m}/{key}" in metrics}
