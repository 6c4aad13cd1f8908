"""Fine-purifying's experiment (Zhang et al., Findings of ACL 2023): poison -> defend -> ACC/ASR.

``python -m common.run experiment=fine_purifying/<name> [data=ag_news] [overrides]`` calls
:func:`run_fine_purifying`:

1. the attacker fine-tunes the clean pre-trained encoder (w^Pre) on training data of which a
   share ``poison_rate`` is triggered (``trigger``) and relabelled to ``target``: w^FT;
2. the defender holds w^Pre, w^FT and ``clean_size`` clean training examples; each defence of
   ``defences`` starts from w^FT: ``none``; ``ft`` (fine-tune on the clean set); ``reinit``
   (a fresh classifier, then ft); ``fine_pruning``; ``fine_mixing`` (a random rho of the encoder's
   dimensions reset to w^Pre, E-PUR, ft); ``fine_purifying`` (the top rho by the diffusion
   indicator delta^2 / H reset, ft); ``drift`` (top rho by |delta|, ft: the ablation);
   ``onion`` (inputs filtered by an LM, no training);
3. clean accuracy (ACC) on the evaluation split and the attack success rate (ASR) on its
   triggered non-target examples; curves over ``rhos`` and ``clean_sizes``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import datasets
import torch
from hydra.utils import instantiate
from torch import Tensor, nn

from common.context import RunContext
from common.optim import build_optimizer
from common.params import ConfigError, check_choice, check_positive
from common.text.classification import collate_fn, fine_tune, loader, predict, tokenize
from common.text.data import TextDataset
from common.text.models import load_by_name
from papers.fine_purifying import figures
from papers.fine_purifying.curvature import fisher_diagonal, hutchinson_diagonal
from papers.fine_purifying.embedding import epur_mask, epur_scores, token_counts
from papers.fine_purifying.indicator import SCOPES, drift, indicator, reset, top_fraction
from papers.fine_purifying.onion import filter_text
from papers.fine_purifying.poison import (
    ATTACKS,
    Trigger,
    attack_success_rate,
    poison_indices,
    poison_texts,
    triggered_test,
)
from papers.fine_purifying.pruning import ffn_layers, mean_activations, prune

DEFENCES = ("none", "ft", "reinit", "fine_pruning", "fine_mixing", "fine_purifying", "drift",
            "onion")
RESETTING = {"fine_mixing": "random", "fine_purifying": "diffusion", "drift": "drift"}
CURVATURES = ("fisher", "hutchinson")


@dataclass
class AttackParams:
    """The attacker: ``poison_rate`` of the training set triggered, ``epochs`` at ``lr``."""

    trigger: Trigger = field(default_factory=Trigger)
    target: int = 0
    poison_rate: float = 0.1
    epochs: int = 2
    lr: float = 1e-4


@dataclass
class DefenceParams:
    """The defender: ``clean_size`` clean examples, fine-tuning ``epochs`` at ``lr``; reset
    ``rho`` of the purified parameters (``scope`` of the ranking); curvature ``curvature``
    (``hutchinson_samples`` probes); E-PUR resets ``epur_tokens`` embedding rows (Fine-mixing);
    Fine-pruning prunes ``prune_ratio`` of the FFN neurons of the last ``prune_layers`` layers;
    ONION filters with LM ``onion_model`` at ``onion_threshold`` on ``onion_eval_size`` rows."""

    clean_size: int = 128
    epochs: int = 10
    lr: float = 5e-5
    rho: float = 0.3
    scope: str = "global"
    curvature: str = "fisher"
    hutchinson_samples: int = 2
    eps: float = 1e-2
    epur_tokens: int = 200
    prune_ratio: float = 0.3
    prune_layers: int = 1
    onion_model: str = "smollm2-135m"
    onion_threshold: float = 0.0
    onion_eval_size: int = 100


@dataclass
class PurifyTask:
    """``task:`` of fine_purifying experiments."""

    attack: AttackParams = field(default_factory=AttackParams)
    defence: DefenceParams = field(default_factory=DefenceParams)
    defences: list[str] = field(default_factory=lambda: [d for d in DEFENCES if d != "onion"])
    rhos: list[float] = field(default_factory=list)
    clean_sizes: list[int] = field(default_factory=list)
    curve_defences: list[str] = field(
        default_factory=lambda: ["ft", "fine_mixing", "fine_purifying"])
    train_split: str = "train"
    eval_split: str = "validation"
    train_size: int | None = 4000
    eval_size: int | None = None
    max_length: int = 128
    batch_size: int = 32
    eval_batch_size: int = 128

    def __post_init__(self) -> None:
        for i, d in enumerate(self.defences):
            check_choice(f"task.defences[{i}]", d, DEFENCES)
        for i, d in enumerate(self.curve_defences):
            check_choice(f"task.curve_defences[{i}]", d, DEFENCES)
        for i, r in enumerate([self.defence.rho, *self.rhos]):
            if not 0 <= r <= 1:
                key = "task.defence.rho" if i == 0 else f"task.rhos[{i - 1}]"
                raise ConfigError(key, f"{r} is not a fraction in [0, 1]", "e.g. 0.3")
        if not 0 < self.attack.poison_rate <= 1:
            raise ConfigError("task.attack.poison_rate", f"{self.attack.poison_rate} is not in "
                              "(0, 1]", "the share of training examples poisoned, e.g. 0.1")
        check_choice("task.attack.trigger.attack", self.attack.trigger.attack, ATTACKS)
        check_choice("task.defence.scope", self.defence.scope, SCOPES)
        check_choice("task.defence.curvature", self.defence.curvature, CURVATURES)
        for key in ("clean_size", "epochs", "lr", "hutchinson_samples", "prune_layers",
                    "onion_eval_size"):
            check_positive(f"task.defence.{key}", getattr(self.defence, key))
        for i, n in enumerate(self.clean_sizes):
            check_positive(f"task.clean_sizes[{i}]", n)
        for key in ("epochs", "lr"):
            check_positive(f"task.attack.{key}", getattr(self.attack, key))
        for key in ("train_size", "eval_size", "batch_size", "eval_batch_size", "max_length"):
            check_positive(f"task.{key}", getattr(self, key))


@dataclass
class Data:
    """Texts and labels of the attacker's training set, the clean pool, the evaluation set and
    its triggered non-target copy."""

    train: datasets.Dataset
    evaluation: datasets.Dataset
    triggered: datasets.Dataset
    clean_pool: datasets.Dataset
    num_labels: int


class Pipeline:
    def __init__(self, ctx: RunContext, task: PurifyTask) -> None:
        self.ctx, self.task = ctx, task
        self.spec: TextDataset = instantiate(ctx.cfg.data)
        self.model_name = ctx.cfg.model.name
        _, self.tokenizer = load_by_name(self.model_name, head=None)
        self.data = self._data()

    def _data(self) -> Data:
        """Train and evaluation rows (disjoint when both come from the same split), the
        poisoned training set, the clean pool (the training rows, unpoisoned) and the
        triggered evaluation set, all tokenised."""
        task, spec = self.task, self.spec
        text, label = spec.text_fields[0], spec.label_field
        seed = self.ctx.seed_for("split")
        train_rows = spec.load(task.train_split).shuffle(seed=seed)
        if task.eval_split == task.train_split:
            size = task.eval_size or 1000
            evaluation, train_rows = (train_rows.select(range(size)),
                                      train_rows.select(range(size, len(train_rows))))
        else:
            evaluation = spec.load(task.eval_split)
            if task.eval_size is not None and task.eval_size < len(evaluation):
                evaluation = evaluation.shuffle(seed=seed).select(range(task.eval_size))
        if task.train_size is not None:
            train_rows = train_rows.select(range(min(task.train_size, len(train_rows))))
        num_labels = train_rows.features[label].num_classes
        attack = task.attack
        if not 0 <= attack.target < num_labels:
            raise ConfigError("task.attack.target", f"{attack.target} is not a class of "
                              f"{spec.name} (0..{num_labels - 1})", "pick the target class")
        gen = self.ctx.rng("poison")
        texts, labels = list(train_rows[text]), list(train_rows[label])
        chosen = poison_indices(labels, attack.poison_rate, attack.target, gen)
        p_texts, p_labels = poison_texts(texts, labels, chosen, attack.trigger, attack.target, gen)
        trig = triggered_test(list(evaluation[text]), list(evaluation[label]), attack.trigger,
                              attack.target, self.ctx.rng("trigger"))

        def table(t: list[str], y: list[int]) -> datasets.Dataset:
            rows = datasets.Dataset.from_dict({"text": t, "label": y})
            return tokenize(rows, self.tokenizer, ["text"], "label", max_length=task.max_length)

        return Data(table(p_texts, p_labels),
                    table(list(evaluation[text]), list(evaluation[label])),
                    table(trig, [attack.target] * len(trig)), table(texts, labels), num_labels)

    def clean_set(self, size: int) -> datasets.Dataset:
        pool = self.data.clean_pool
        if size > len(pool):
            raise ConfigError("task.defence.clean_size", f"{size} > the {len(pool)} training rows",
                              "lower the clean set size")
        return pool.shuffle(seed=self.ctx.seed_for("clean")).select(range(size))

    def fresh_model(self) -> nn.Module:
        with self.ctx.seeded("init"):
            model, _ = load_by_name(self.model_name, head="sequence_classification",
                                    num_labels=self.data.num_labels)
        return model.to(self.ctx.device)

    def train(self, name: str, model: nn.Module, rows: datasets.Dataset, epochs: int,
              lr: float) -> nn.Module:
        optimizer = build_optimizer(self.ctx.cfg.optim, model.parameters(), lr=lr)
        fine_tune(self.ctx, model, self.tokenizer, rows, {}, name=name,
                  batch_size=self.task.batch_size, optimizer=optimizer, max_epochs=epochs,
                  max_steps=None, unit="epoch", eval_every=epochs, checkpoint_every=0,
                  monitor=None, restore_best=False, log_prefix=f"{name}/")
        return model

    def evaluate(self, model: nn.Module, evaluation: datasets.Dataset | None = None,
                 triggered: datasets.Dataset | None = None) -> dict[str, float]:
        size = self.task.eval_batch_size
        logits, labels = predict(model, loader(evaluation or self.data.evaluation,
                                               self.tokenizer, batch_size=size))
        trig_logits, _ = predict(model, loader(triggered or self.data.triggered, self.tokenizer,
                                               batch_size=size))
        return {"acc": float((logits.argmax(-1) == labels).float().mean()),
                "asr": attack_success_rate(trig_logits.argmax(-1), self.task.attack.target)}


def purified_names(model: nn.Module) -> list[str]:
    """The parameters that have a pre-trained value: the encoder's (not the new classifier)."""
    prefix = f"{model.base_model_prefix}."
    return [n for n, _ in model.named_parameters() if n.startswith(prefix)]


def batches(tokenizer, rows: datasets.Dataset, size: int, device: torch.device
            ) -> list[dict[str, Tensor]]:
    cols = rows.select_columns([c for c in ("input_ids", "attention_mask", "token_type_ids",
                                            "labels") if c in rows.column_names])
    collate = collate_fn(tokenizer)
    return [{k: v.to(device) for k, v in collate(cols.select(range(i, min(i + size, len(cols)))
                                                             )).items()}
            for i in range(0, len(cols), size)]


class Defender:
    """The defender's view: w^Pre, w^FT, the clean set and what is computed from them once."""

    def __init__(self, pipe: Pipeline, suspicious: nn.Module, clean: datasets.Dataset) -> None:
        self.pipe, self.suspicious, self.clean = pipe, suspicious, clean
        self.names = purified_names(suspicious)
        pre, _ = load_by_name(pipe.model_name, head="sequence_classification",
                              num_labels=pipe.data.num_labels)
        pre_params = dict(pre.named_parameters())
        self.pretrained = {n: pre_params[n].detach().to(pipe.ctx.device) for n in self.names}
        self.delta = drift(dict(suspicious.named_parameters()), self.pretrained)
        self._curvature: dict[str, Tensor] | None = None

    def with_clean(self, clean: datasets.Dataset) -> Defender:
        """The same suspicious and pre-trained weights with another clean set (its own
        curvature), without reloading w^Pre or recomputing the drift."""
        other = copy.copy(self)
        other.clean, other._curvature = clean, None
        return other

    @property
    def curvature(self) -> dict[str, Tensor]:
        if self._curvature is None:
            task = self.pipe.task.defence
            clean = batches(self.pipe.tokenizer, self.clean, 16, self.pipe.ctx.device)
            if task.curvature == "fisher":
                self._curvature = fisher_diagonal(self.suspicious, clean, self.names)
            else:
                self._curvature = hutchinson_diagonal(self.suspicious, clean, self.names,
                                                      task.hutchinson_samples,
                                                      self.pipe.ctx.rng("hutchinson"))
        return self._curvature

    def defend(self, name: str, defence: str, rho: float) -> nn.Module:
        pipe, params = self.pipe, self.pipe.task.defence
        model = copy.deepcopy(self.suspicious)
        if defence == "none":
            return model
        hooks = []
        if defence == "reinit":
            fresh = pipe.fresh_model()
            model.classifier.load_state_dict(fresh.classifier.state_dict())
        elif defence == "fine_pruning":
            layers = ffn_layers(model)[-params.prune_layers:]
            acts = mean_activations(model, batches(pipe.tokenizer, self.clean, 32,
                                                   pipe.ctx.device), layers)
            hooks = prune(layers, acts, params.prune_ratio)
        elif defence in RESETTING:
            kind = RESETTING[defence]
            scores = indicator(kind, self.delta,
                               self.curvature if kind == "diffusion" else None, params.eps,
                               pipe.ctx.rng("mix"))
            reset(model, self.pretrained, top_fraction(scores, rho, params.scope))
            if defence == "fine_mixing":
                self._epur(model)
        pipe.train(name, model, self.clean, params.epochs, params.lr)
        for h in hooks:
            h.remove()
        return model

    def _epur(self, model: nn.Module) -> None:
        key = f"{model.base_model_prefix}.embeddings.word_embeddings.weight"
        weight = dict(model.named_parameters())[key]
        counts = token_counts(self.clean["input_ids"], weight.shape[0]).to(weight.device)
        rows = epur_mask(epur_scores(weight.detach(), self.pretrained[key], counts),
                         self.pipe.task.defence.epur_tokens)
        reset(model, self.pretrained, {key: rows.unsqueeze(-1).expand_as(weight)})


def onion(pipe: Pipeline, model: nn.Module) -> dict[str, float]:
    """ONION on the first ``onion_eval_size`` evaluation rows and triggered rows."""
    params = pipe.task.defence
    lm, lm_tok = load_by_name(params.onion_model, head="causal_lm")
    lm.to(pipe.ctx.device).eval()
    n = params.onion_eval_size

    def filtered(rows: datasets.Dataset) -> datasets.Dataset:
        rows = rows.select(range(min(n, len(rows))))
        texts = [filter_text(lm, lm_tok, t, params.onion_threshold)
                 for t in pipe.ctx.progress(rows["text"], desc="onion", leave=False)]
        table = datasets.Dataset.from_dict({"text": texts, "label": rows["label"]})
        return tokenize(table, pipe.tokenizer, ["text"], "label",
                        max_length=pipe.task.max_length)

    return pipe.evaluate(model, filtered(pipe.data.evaluation), filtered(pipe.data.triggered))


def run_fine_purifying(ctx: RunContext, task: PurifyTask) -> dict[str, float]:
    """Attack, then every defence, the rho and clean-size curves (module docstring)."""
    pipe = Pipeline(ctx, task)
    suspicious = pipe.train("attack", pipe.fresh_model(), pipe.data.train, task.attack.epochs,
                            task.attack.lr)
    metrics: dict[str, float] = {
        "data/poisoned": float(round(task.attack.poison_rate * len(pipe.data.train))),
        "data/clean": float(task.defence.clean_size),
        "data/triggered": float(len(pipe.data.triggered))}
    defender = Defender(pipe, suspicious, pipe.clean_set(task.defence.clean_size))
    step = 0

    def record(prefix: str, found: dict[str, float]) -> None:
        nonlocal step
        metrics.update({f"{prefix}/{k}": v for k, v in found.items()})
        ctx.tracker.log({f"{prefix}/{k}": v for k, v in found.items()}, step=step)
        step += 1

    for defence in task.defences:
        if defence == "onion":
            record("onion", onion(pipe, suspicious))
            continue
        model = defender.defend(defence, defence, task.defence.rho)
        record(defence, pipe.evaluate(model))
    curves: dict[str, dict[float, dict[str, float]]] = {}
    for rho in task.rhos:
        for defence in [d for d in task.curve_defences if d in RESETTING]:
            found = pipe.evaluate(defender.defend(f"{defence}/rho{rho:g}", defence, rho))
            curves.setdefault(f"{defence} (rho)", {})[rho] = found
            record(f"{defence}/rho{rho:g}", found)
    for size in task.clean_sizes:
        sized = defender.with_clean(pipe.clean_set(size))
        for defence in task.curve_defences:
            found = pipe.evaluate(sized.defend(f"{defence}/clean{size}", defence,
                                               task.defence.rho))
            curves.setdefault(f"{defence} (clean)", {})[size] = found
            record(f"{defence}/clean{size}", found)
    metrics.update(glance(metrics))
    if task.rhos:
        ctx.tracker.log_image("rho", figures.curves(
            {k: v for k, v in curves.items() if k.endswith("(rho)")}, "reset fraction rho",
            ctx.run_dir / "rho.png"))
    if task.clean_sizes:
        ctx.tracker.log_image("clean_size", figures.curves(
            {k: v for k, v in curves.items() if k.endswith("(clean)")}, "clean examples",
            ctx.run_dir / "clean_size.png"))
    return metrics


def glance(metrics: dict[str, float]) -> dict[str, float]:
    """ACC and ASR of no defence, Fine-mixing and Fine-purifying (``make demo``)."""
    return {f"glance/{d}_{k}": metrics[f"{d}/{k}"] for d in ("none", "fine_mixing",
                                                             "fine_purifying")
            for k in ("acc", "asr") if f"{d}/{k}" in metrics}

