"""CascadeBERT's experiment: train the cascade (with DAR) and the early-exit baselines on one
GLUE task, then trace accuracy against speed-up for every method.

``python -m common.run experiment=cascadebert/<name> [data=mrpc] [overrides]`` calls
:func:`run_cascadebert`. Steps, each trained by the shared ``Trainer`` (``optim``, ``schedule``,
``trainer`` of the run):

1. difficulty labels: the small model trained with ``difficulty.seeds`` seeds (CE only), each
   predicting the training set (Sec. 3.2); the first of them is also the "cascade without DAR"
   ablation's small model;
2. the small model with CE + lambda * DAR; the large model with CE (also DeeBERT's first stage);
3. DeeBERT's second stage (off-ramps on the frozen fine-tuned large model) and PABEE (the
   large model with a classifier per layer, weighted loss);
4. on the evaluation split: each model's scores, the cascade at every tau, DeeBERT at every
   entropy threshold, PABEE at every patience, both speed-ups, ECE, wall-clock; the
   accuracy / speed-up plot.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets
import numpy as np
import torch
from hydra.utils import instantiate
from torch import Tensor, nn
from torch.nn import functional as F

from common.context import RunContext
from common.metrics import expected_calibration_error
from common.params import ConfigError, check_choice, check_positive
from common.text.classification import collate_fn, tokenize
from common.text.data import TextDataset, seeded_subset
from common.text.models import load_by_name
from common.training import SeededBatches, Trainer
from papers.cascadebert import figures
from papers.cascadebert.cascade import cascade_probs, confidence, run_costs
from papers.cascadebert.dar import dar_loss, difficulty_labels
from papers.cascadebert.early_exit import (
    deebert_exits,
    deebert_ramp_loss,
    entropy,
    exit_outputs,
    pabee_exits,
    pabee_loss,
)
from papers.cascadebert.evaluation import (
    Point,
    Shape,
    forward_all,
    forward_exits,
    interpolate,
    point,
    timed,
)
from papers.cascadebert.models import POOLINGS, CompleteModel, MultiExitModel

BATCH_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "labels", "easy")
Loss = Callable[[nn.Module, dict[str, Tensor]], Tensor | tuple[Tensor, dict[str, float]]]


@dataclass
class ModelSpec:
    """A cascade member: ``configs/model/<model>.yaml``, optionally cut to its first
    ``layers`` layers (a complete shallower model, as the paper's pretrained BERT-2L)."""

    model: str
    layers: int | None = None


@dataclass
class DifficultyParams:
    """Sec. 3.2: ``seeds`` small models label the training set; easy = correct in at least
    ``min_correct`` of them (null: all)."""

    seeds: int = 5
    min_correct: int | None = None


@dataclass
class DarParams:
    """Sec. 3.2: L = CE + ``weight`` * DAR with ``margin`` (official MRPC script: 0.5, 0.5)."""

    weight: float = 0.5
    margin: float = 0.5


@dataclass
class CascadeTask:
    """``task:`` of cascadebert experiments."""

    small: ModelSpec
    large: ModelSpec
    train_split: str = "train"
    eval_split: str = "validation"
    train_size: int | None = None
    eval_size: int | None = None
    max_length: int = 128
    pooling: str = "cls"
    batch_size: int = 16
    eval_batch_size: int = 64
    difficulty: DifficultyParams = field(default_factory=DifficultyParams)
    dar: DarParams = field(default_factory=DarParams)
    taus: list[float] = field(default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
    entropies: list[float] = field(default_factory=lambda: [
        0.0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    patiences: list[int] | None = None
    threshold_quantiles: int = 20
    target_speedup: float = 4.0
    ece_bins: int = 10
    wallclock: bool = True

    def __post_init__(self) -> None:
        for key in ("train_size", "eval_size", "max_length", "batch_size", "eval_batch_size",
                    "ece_bins"):
            check_positive(f"task.{key}", getattr(self, key))
        check_choice("task.pooling", self.pooling, POOLINGS)
        check_positive("task.small.layers", self.small.layers)
        check_positive("task.large.layers", self.large.layers)
        check_positive("task.difficulty.seeds", self.difficulty.seeds)
        if self.difficulty.min_correct is not None and not (
                1 <= self.difficulty.min_correct <= self.difficulty.seeds):
            raise ConfigError("task.difficulty.min_correct", f"{self.difficulty.min_correct} is "
                              f"outside 1..{self.difficulty.seeds} (the seeds)",
                              "null means all seeds")
        check_positive("task.dar.weight", self.dar.weight, allow_zero=True)
        check_positive("task.dar.margin", self.dar.margin, allow_zero=True)
        check_positive("task.target_speedup", self.target_speedup)
        check_positive("task.threshold_quantiles", self.threshold_quantiles, allow_zero=True)
        for i, tau in enumerate(self.taus):
            if not 0 <= tau < 1:
                raise ConfigError(f"task.taus[{i}]", f"{tau} is not a probability in [0, 1)",
                                  "thresholds on the max softmax probability, e.g. 0.8")
        for i, s in enumerate(self.entropies):
            check_positive(f"task.entropies[{i}]", s, allow_zero=True)
        for i, t in enumerate(self.patiences or []):
            check_positive(f"task.patiences[{i}]", t)


@dataclass
class Encoded:
    """One model family's view of the data: tokenizer, tokenised splits, token counts."""

    tokenizer: Any
    train: datasets.Dataset
    evaluation: datasets.Dataset

    @property
    def eval_tokens(self) -> Tensor:
        return torch.tensor([len(ids) for ids in self.evaluation["input_ids"]])


def _collate(tokenizer) -> Callable[[Sequence[Mapping[str, Any]]], dict[str, Tensor]]:
    base = collate_fn(tokenizer)

    def collate(rows: Sequence[Mapping[str, Any]]) -> dict[str, Tensor]:
        batch = base(rows)
        if "easy" in rows[0]:
            batch["easy"] = torch.tensor([bool(r["easy"]) for r in rows])
        return batch

    return collate


def _columns(ds: datasets.Dataset) -> datasets.Dataset:
    return ds.select_columns([c for c in BATCH_COLUMNS if c in ds.column_names])


def eval_batches(ds: datasets.Dataset, tokenizer, size: int, device: torch.device
                 ) -> list[dict[str, Tensor]]:
    """Evaluation batches in row order, moved to the device once, so that timed passes measure
    the models only. Not the language core's ``loader``: iterating a DataLoader draws from
    torch's global RNG, which would move DeeBERT's ramp initialisation and every pinned number."""
    rows, collate = _columns(ds), collate_fn(tokenizer)
    return [{k: v.to(device) for k, v in collate(rows.select(range(i, min(i + size, len(rows))))
                                                 ).items()}
            for i in range(0, len(rows), size)]


class Pipeline:
    """The run's data, models and trainers (one per trained model)."""

    def __init__(self, ctx: RunContext, task: CascadeTask) -> None:
        self.ctx, self.task = ctx, task
        data: TextDataset = instantiate(ctx.cfg.data)
        seed = ctx.seed_for("split")
        self.train = seeded_subset(data.load(task.train_split), task.train_size, seed)
        self.evaluation = seeded_subset(data.load(task.eval_split), task.eval_size, seed)
        self.num_labels = self.train.features[data.label_field].num_classes
        self.labels = torch.tensor(self.evaluation[data.label_field])
        self.data = data
        self._encoded: dict[str, Encoded] = {}

    def encoded(self, spec: ModelSpec) -> Encoded:
        if spec.model not in self._encoded:
            tokenizer = load_by_name(spec.model, head=None).tokenizer
            enc = {split: tokenize(ds, tokenizer, self.data.text_fields, self.data.label_field,
                                   max_length=self.task.max_length)
                   for split, ds in (("train", self.train), ("eval", self.evaluation))}
            self._encoded[spec.model] = Encoded(tokenizer, enc["train"], enc["eval"])
        return self._encoded[spec.model]

    def encoder(self, spec: ModelSpec, index: int = 0) -> nn.Module:
        """The pretrained encoder of ``spec`` (cut to ``spec.layers``), loaded under the
        ``init`` seed stream ``index``."""
        options = {} if spec.layers is None else {"num_hidden_layers": spec.layers}
        with self.ctx.seeded("init", index):
            return load_by_name(spec.model, head="base", **options).model

    def complete_model(self, spec: ModelSpec, index: int = 0) -> CompleteModel:
        """A pretrained encoder with a new classifier, both seeded by stream ``index``: the
        small model with DAR and the first difficulty seed start from the same weights."""
        encoder = self.encoder(spec, index)
        with self.ctx.seeded("init", index):
            return CompleteModel(encoder, self.num_labels, self.task.pooling).to(self.ctx.device)

    def fit(self, name: str, model: nn.Module, spec: ModelSpec, loss: Loss, *,
            index: int = 0, params: Sequence[nn.Parameter] | None = None) -> None:
        """Train ``model`` on the training split of ``spec``'s tokenizer; the batch order and
        dropout come from the ``shuffle`` / ``dropout`` seed streams ``index``."""
        encoded = self.encoded(spec)
        device = self.ctx.device
        batches = SeededBatches(_columns(encoded.train), self.task.batch_size,
                                seed=self.ctx.seed_for("shuffle", index),
                                collate_fn=_collate(encoded.tokenizer))

        def loss_fn(m: nn.Module, batch: dict[str, Tensor]) -> Tensor | tuple:
            return loss(m, {k: v.to(device) for k, v in batch.items()})

        model.train()
        with self.ctx.seeded("dropout", index):
            Trainer.from_context(self.ctx, name=name, model=model, loss_fn=loss_fn,
                                 train_data=batches, params=params,
                                 log_prefix=f"{name}/").fit()
        model.eval()

    @torch.no_grad()
    def outputs(self, model: nn.Module, spec: ModelSpec, split: str = "eval") -> Tensor:
        """The model's outputs on a split, in row order, on the CPU."""
        encoded = self.encoded(spec)
        ds = encoded.evaluation if split == "eval" else encoded.train
        model.eval()
        return torch.cat([model(b).float().cpu() for b in eval_batches(
            ds, encoded.tokenizer, self.task.eval_batch_size, self.ctx.device)], dim=-2)


def cross_entropy(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    return F.cross_entropy(model(batch), batch["labels"])


def with_dar(params: DarParams, generator: torch.Generator) -> Loss:
    """CE + lambda * DAR on the small model's max-probability confidence (Sec. 3.2)."""

    def loss(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        logits = model(batch)
        ce = F.cross_entropy(logits, batch["labels"])
        dar = dar_loss(confidence(logits.softmax(-1)), batch["easy"], params.margin, generator)
        return ce + params.weight * dar, {"ce": ce.detach(), "dar": dar.detach()}

    return loss


def train_difficulty(pipe: Pipeline) -> tuple[Tensor, CompleteModel]:
    """Difficulty labels of the training set and the first seed's small model (no DAR)."""
    task = pipe.task
    train_labels = torch.tensor(pipe.train[pipe.data.label_field])
    correct, first = [], None
    for k in range(task.difficulty.seeds):
        model = pipe.complete_model(task.small, k)
        pipe.fit(f"difficulty{k}", model, task.small, cross_entropy, index=k)
        correct.append(pipe.outputs(model, task.small, "train").argmax(-1) == train_labels)
        first = model if first is None else first
    return difficulty_labels(torch.stack(correct), task.difficulty.min_correct), first


def _curve_points(method: str, settings: Sequence[tuple[str, Tensor, Tensor, Tensor]],
                  labels: Tensor, reference_layers: int, reference_flops: Tensor,
                  bins: int) -> list[Point]:
    return [point(method, name, probs, labels, layers, flops, reference_layers,
                  reference_flops, bins) for name, probs, layers, flops in settings]


def _time_cascade(pipe: Pipeline, small: CompleteModel, large: CompleteModel,
                  exits: Tensor) -> float:
    """Wall-clock of the cascade: the small model on every example, the large one on the
    escalated examples (the exit decision comes from the small model's pass)."""
    task, device = pipe.task, pipe.ctx.device
    small_enc, large_enc = pipe.encoded(task.small), pipe.encoded(task.large)
    small_batches = eval_batches(small_enc.evaluation, small_enc.tokenizer,
                                 task.eval_batch_size, device)
    escalated = exits.nonzero().flatten().tolist()
    large_batches = eval_batches(large_enc.evaluation.select(escalated), large_enc.tokenizer,
                                 task.eval_batch_size, device) if escalated else []
    return timed(lambda: (forward_all(small, small_batches), forward_all(large, large_batches)),
                 device)


def _time_exits(pipe: Pipeline, model: MultiExitModel, exits: Tensor) -> float:
    task, device = pipe.task, pipe.ctx.device
    enc = pipe.encoded(task.large)
    groups = {int(d) + 1: eval_batches(enc.evaluation.select(
        (exits == d).nonzero().flatten().tolist()), enc.tokenizer, task.eval_batch_size, device)
        for d in exits.unique()}
    return timed(lambda: forward_exits(model, groups), device)


def run_cascadebert(ctx: RunContext, task: CascadeTask) -> dict[str, float]:
    """Train the cascade and the baselines, evaluate every operating point (module docstring)."""
    pipe = Pipeline(ctx, task)
    easy, small_plain = train_difficulty(pipe)
    small_enc = pipe.encoded(task.small)
    small_enc.train = small_enc.train.add_column("easy", easy.tolist())
    small = pipe.complete_model(task.small)
    pipe.fit("small_dar", small, task.small, with_dar(task.dar, ctx.rng("dar")))

    large = pipe.complete_model(task.large)
    pretrained_pooler = copy.deepcopy(large.head.pooler)
    pipe.fit("large", large, task.large, cross_entropy)

    deebert = MultiExitModel.with_ramps(copy.deepcopy(large), pretrained_pooler)
    deebert.encoder.requires_grad_(False)
    deebert.heads[-1].requires_grad_(False)
    ramps = [p for head in deebert.heads[:-1] for p in head.parameters()]
    pipe.fit("deebert_ramps", deebert, task.large,
             lambda m, b: deebert_ramp_loss(m(b), b["labels"]), params=ramps)

    pabee_encoder = pipe.encoder(task.large)
    with ctx.seeded("init"):
        pabee = MultiExitModel(pabee_encoder, pipe.num_labels, shared_pooler=True,
                               pooling=task.pooling).to(ctx.device)
    pipe.fit("pabee", pabee, task.large, lambda m, b: pabee_loss(m(b), b["labels"]))

    return evaluate(pipe, small, small_plain, large, deebert, pabee, easy)


def evaluate(pipe: Pipeline, small: CompleteModel, small_plain: CompleteModel,
             large: CompleteModel, deebert: MultiExitModel, pabee: MultiExitModel,
             easy: Tensor) -> dict[str, float]:
    ctx, task, labels, bins = pipe.ctx, pipe.task, pipe.labels, pipe.task.ece_bins
    small_shape, large_shape = Shape.of(small), Shape.of(large)
    small_tokens = pipe.encoded(task.small).eval_tokens
    large_tokens = pipe.encoded(task.large).eval_tokens
    n = len(labels)
    ref_layers = large_shape.layers
    ref_flops = large_shape.flops(large_tokens, ref_layers)
    probs = {name: pipe.outputs(m, spec).softmax(-1) for name, m, spec in (
        ("small", small, task.small), ("small_plain", small_plain, task.small),
        ("large", large, task.large))}
    layer_probs = {"deebert": pipe.outputs(deebert, task.large).softmax(-1),
                   "pabee": pipe.outputs(pabee, task.large).softmax(-1)}

    def alone(name: str, shape: Shape, tokens: Tensor) -> Point:
        return point("alone", name, probs[name], labels, torch.full((n,), shape.layers),
                     shape.flops(tokens, shape.layers), ref_layers, ref_flops, bins)

    points = [alone("small", small_shape, small_tokens),
              alone("small_plain", small_shape, small_tokens),
              alone("large", large_shape, large_tokens)]
    per_model_flops = torch.stack([small_shape.flops(small_tokens, small_shape.layers),
                                   large_shape.flops(large_tokens, large_shape.layers)])
    layer_costs = torch.tensor([float(small_shape.layers), float(large_shape.layers)])
    cascades: dict[str, list[Point]] = {}
    for method, first in (("cascade", "small"), ("cascade_no_dar", "small_plain")):
        settings = []
        for tau in sweep(task.taus, confidence(probs[first]), task.threshold_quantiles):
            out, exits = cascade_probs([probs[first], probs["large"]], tau)
            settings.append((f"tau{tau:.6g}", out, run_costs(layer_costs, exits),
                             run_costs(per_model_flops, exits)))
        cascades[method] = _curve_points(method, settings, labels, ref_layers, ref_flops, bins)

    patiences = task.patiences or list(range(1, ref_layers))
    early: dict[str, list[Point]] = {}
    exit_choices = {
        "deebert": [(f"S{s:.6g}", deebert_exits(layer_probs["deebert"].log(), s))
                    for s in sweep(task.entropies, entropy(layer_probs["deebert"][:-1].log()),
                                   task.threshold_quantiles)],
        "pabee": [(f"t{t}", pabee_exits(layer_probs["pabee"].log(), t)) for t in patiences],
    }
    for method, choices in exit_choices.items():
        settings = []
        for name, exits in choices:
            ran = exits + 1
            settings.append((name, exit_outputs(layer_probs[method], exits), ran.double(),
                             large_shape.flops(large_tokens, ran, exits=ran)))
        early[method] = _curve_points(method, settings, labels, ref_layers, ref_flops, bins)

    glance = nearest(cascades["cascade"], task.target_speedup)
    if task.wallclock:
        models = {"small": small, "small_plain": small_plain, "large": large,
                  "deebert": deebert, "pabee": pabee}
        _measure_wallclock(pipe, points, glance, early, probs, models, exit_choices)

    curves = {**cascades, **early}
    figures.tradeoff(curves, points, f"{ctx.cfg.data.name}: accuracy vs speed-up",
                     ctx.path("tradeoff.png"))
    ctx.tracker.log_image("tradeoff", ctx.path("tradeoff.png"))
    all_points = points + [p for curve in curves.values() for p in curve]
    (ctx.run_dir / "points.json").write_text(json.dumps(
        [p.__dict__ for p in all_points], indent=1))

    metrics: dict[str, float] = {}
    for p in all_points:
        metrics |= p.metrics()
    metrics |= {
        "difficulty/easy_share": float(easy.float().mean()),
        "glance/target_speedup": task.target_speedup,
        **{f"glance/{method}_acc": interpolate(curve, task.target_speedup)
           for method, curve in curves.items()},
        "glance/cascade_tau": float(glance.setting[3:]),
        "glance/cascade_speedup": glance.speedup_layers,
        "glance/cascade_ece": glance.ece,
        "ece/small": expected_calibration_error(probs["small"], labels, bins),
        "ece/small_no_dar": expected_calibration_error(probs["small_plain"], labels, bins),
        "ece/large": expected_calibration_error(probs["large"], labels, bins),
        "eval/n": float(n),
    }
    return {k: v for k, v in metrics.items() if np.isfinite(v)}


def sweep(fixed: Sequence[float], values: Tensor, quantiles: int) -> list[float]:
    """The thresholds of a curve: the ``fixed`` ones and the (q / quantiles)-quantiles of
    ``values`` (confidences or entropies on the evaluation set, q = 1 .. quantiles - 1), so that
    a model whose scores sit in a narrow band still gets a curve across its speed-ups."""
    extra = (torch.quantile(values.flatten().double(),
                            torch.linspace(0, 1, quantiles + 1, dtype=torch.float64)[1:-1])
             if quantiles > 1 else torch.empty(0))
    return sorted({round(float(v), 6) for v in [*fixed, *extra.tolist()]})


def nearest(points: Sequence[Point], speedup: float) -> Point:
    """The point whose layer-count speed-up is closest to ``speedup``."""
    return min(points, key=lambda p: abs(p.speedup_layers - speedup))


def _measure_wallclock(pipe: Pipeline, points: list[Point], glance: Point,
                       early: dict[str, list[Point]], probs: dict[str, Tensor],
                       models: dict[str, nn.Module],
                       exit_choices: dict[str, list[tuple[str, Tensor]]]) -> None:
    """Seconds over the evaluation set, batched as the evaluation (one warm-up pass of each
    model first), of each model alone, the cascade's point nearest the target speed-up, and
    DeeBERT's and PABEE's points nearest to its speed-up (layers): the matched comparison."""
    task, device = pipe.task, pipe.ctx.device
    for p in points:
        spec = task.large if p.setting == "large" else task.small
        enc = pipe.encoded(spec)
        batches = eval_batches(enc.evaluation, enc.tokenizer, task.eval_batch_size, device)
        forward_all(models[p.setting], batches)
        p.seconds = timed(lambda m=models[p.setting], b=batches: forward_all(m, b), device)
    _, exits = cascade_probs([probs["small"], probs["large"]], float(glance.setting[3:]))
    glance.seconds = _time_cascade(pipe, models["small"], models["large"], exits)
    for method in ("deebert", "pabee"):
        closest = nearest(early[method], glance.speedup_layers)
        closest.seconds = _time_exits(pipe, models[method],
                                      exit_choices[method][early[method].index(closest)][1])
