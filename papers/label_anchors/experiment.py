"""``run_anchors(ctx, task)``: the paper's six analyses on one (model, dataset, seed).

``task.analyses`` picks which run (one config per analysis, ``all`` in ``make label-anchors``);
each reads its own block of ``task``. Metrics are ``<analysis>/<name>``; per-layer curves are
``<analysis>/layer<l>/<name>`` (0-based layers) and a plot in the run folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import torch

from common.context import RunContext
from common.params import ConfigError, check_choice, check_positive
from common.training import SeededBatches, Trainer
from papers.label_anchors import figures
from papers.label_anchors.attention import Recorder, hooked
from papers.label_anchors.compression import METHODS, compare_compression
from papers.label_anchors.deep_layers import class_attention, cumulative_share, layer_aucs
from papers.label_anchors.diagnosis import diagnose, plot_confusions
from papers.label_anchors.isolation import Isolation, layer_block, random_rows, scaled_k
from papers.label_anchors.prompting import Prompt
from papers.label_anchors.reweighting import AnchorReweighting, check_same_context, reweighting_loss
from papers.label_anchors.saliency import (
    FLOWS,
    TARGETS,
    crossover_layer,
    flow_masks,
    flow_scores,
    proportions,
    saliency,
)
from papers.label_anchors.scoring import label_loyalty, word_loyalty
from papers.label_anchors.setting import ICLParams, Setting, load_setting

ANALYSES = ("saliency", "isolation", "deep", "reweighting", "compression", "diagnosis")


@dataclass
class SaliencyParams:
    """Sec. 2.1: ``examples`` prompts (None: the whole test sample); the loss ``target``
    (gold label or the model's prediction); fresh demonstrations for every example
    (``resample_demonstrations``, the official code) or the run's one set."""

    examples: int | None = None
    target: str = "gold"
    resample_demonstrations: bool = True


@dataclass
class IsolationParams:
    """Sec. 2.2: isolate the first / last k layers for k in ``ks`` of a ``reference_depth``
    model (GPT2-XL: 48), scaled to this model's depth (null: unscaled); word loyalty over the
    top ``top_k`` tokens."""

    ks: list[int] = field(default_factory=lambda: [1, 3, 5, 7])
    reference_depth: int | None = 48
    top_k: int = 5


@dataclass
class DeepParams:
    """Sec. 2.3: demonstrations per class (null: ``icl.shots``; the official code used 2)."""

    shots: int | None = None


@dataclass
class ReweightingParams:
    """Sec. 3.1: ``train_per_class`` extra examples per class train beta (disjoint from the
    demonstrations); ``baseline_shots`` per class is the longer-prompt ICL baseline."""

    train_per_class: int = 4
    baseline_shots: int = 5


@dataclass
class CompressionParams:
    """Sec. 3.2: the compressed contexts compared with full ICL, loyalty over the top
    ``top_k`` tokens, ``trials`` random draws for Hidden_random-top."""

    methods: list[str] = field(default_factory=lambda: [
        "hidden_anchor", "text_anchor", "hidden_random", "hidden_random_top"])
    top_k: int = 5
    trials: int = 20


@dataclass
class DiagnosisParams:
    """Sec. 3.3: the layer whose keys and queries are read (null: 2/3 of the depth, GPT2-XL's
    layer 32 of 48); ``pca_components`` directions of the query vectors."""

    layer: int | None = None
    pca_components: int = 10


@dataclass
class AnchorsTask:
    """Which analyses run, the shared ICL setting and each analysis's settings."""

    analyses: list[str]
    icl: ICLParams = field(default_factory=ICLParams)
    saliency: SaliencyParams = field(default_factory=SaliencyParams)
    isolation: IsolationParams = field(default_factory=IsolationParams)
    deep: DeepParams = field(default_factory=DeepParams)
    reweighting: ReweightingParams = field(default_factory=ReweightingParams)
    compression: CompressionParams = field(default_factory=CompressionParams)
    diagnosis: DiagnosisParams = field(default_factory=DiagnosisParams)

    def __post_init__(self) -> None:
        if self.analyses == ["all"]:
            self.analyses = list(ANALYSES)
        if not self.analyses:
            raise ConfigError("task.analyses", "is empty", f"name some of {list(ANALYSES)}")
        for i, name in enumerate(self.analyses):
            check_choice(f"task.analyses[{i}]", name, ANALYSES)
        check_choice("task.saliency.target", self.saliency.target, TARGETS)
        check_positive("task.saliency.examples", self.saliency.examples)
        for i, k in enumerate(self.isolation.ks):
            check_positive(f"task.isolation.ks[{i}]", k)
        check_positive("task.isolation.reference_depth", self.isolation.reference_depth)
        check_positive("task.isolation.top_k", self.isolation.top_k)
        check_positive("task.deep.shots", self.deep.shots)
        check_positive("task.reweighting.train_per_class", self.reweighting.train_per_class)
        check_positive("task.reweighting.baseline_shots", self.reweighting.baseline_shots)
        for i, method in enumerate(self.compression.methods):
            check_choice(f"task.compression.methods[{i}]", method, METHODS)
        check_positive("task.compression.top_k", self.compression.top_k)
        check_positive("task.compression.trials", self.compression.trials)
        check_positive("task.diagnosis.layer", self.diagnosis.layer, allow_zero=True)
        check_positive("task.diagnosis.pca_components", self.diagnosis.pca_components)


def _title(ctx: RunContext) -> str:
    return f"{ctx.cfg.model.name} on {ctx.cfg.data.name} (seed {ctx.seed})"


def _per_layer(prefix: str, curves: dict[str, np.ndarray]) -> dict[str, float]:
    return {f"{prefix}/layer{layer}/{name}": float(v)
            for name, values in curves.items() for layer, v in enumerate(values)}


def _accuracy(setting: Setting, prompts: list[Prompt], logits: torch.Tensor) -> float:
    gold = torch.tensor([p.query_label for p in prompts])
    return float((setting.class_scores(logits).argmax(-1).cpu() == gold).float().mean())


@torch.inference_mode()
def _logits(setting: Setting, prompt: Prompt, *hooks) -> torch.Tensor:
    """Next-token logits at q (V,) of one prompt with ``hooks`` installed."""
    with hooked(setting.model, *hooks):
        return setting.logits(prompt).cpu()


@torch.inference_mode()
def _all_logits(ctx: RunContext, setting: Setting, prompts: list[Prompt], *hooks,
                desc: str = "ICL") -> torch.Tensor:
    """Next-token logits at q of every prompt (N, V), with ``hooks`` installed."""
    rows = []
    with hooked(setting.model, *hooks):
        for prompt in ctx.progress(prompts, desc=desc, leave=False):
            rows.append(setting.logits(prompt).cpu())
    return torch.stack(rows)


def run_saliency(ctx: RunContext, setting: Setting, params: SaliencyParams) -> dict[str, float]:
    """S_wp, S_pq, S_ww per layer averaged over examples (Eq. 2-4) and their shares."""
    examples = setting.test[: params.examples]
    scores = []
    for i, example in enumerate(ctx.progress(examples, desc="saliency")):
        demos = (setting.draw_demonstrations(setting.params.shots, index=i + 1)
                 if params.resample_demonstrations else None)
        prompt = setting.prompt(example, demos)
        if len(prompt.ids) > setting.params.max_length:
            continue
        scores.append(flow_scores(saliency(setting, prompt, params.target), flow_masks(prompt)))
    mean = torch.stack(scores).mean(0).cpu()
    shares = proportions(mean).numpy()
    ctx.tracker.log_image("saliency", figures.flows(
        shares, f"Information flow: {_title(ctx)}", ctx.path("saliency_flows.png")))
    half = len(shares) // 2
    return {
        "saliency/n": float(len(scores)),
        "saliency/crossover_layer": float(crossover_layer(mean)),
        "saliency/wp_share_shallow": float(shares[:half, 0].mean()),
        "saliency/pq_share_shallow": float(shares[:half, 1].mean()),
        "saliency/wp_share_deep": float(shares[half:, 0].mean()),
        "saliency/pq_share_deep": float(shares[half:, 1].mean()),
        **_per_layer("saliency", {f"S_{n}": mean[:, j].numpy() for j, n in enumerate(FLOWS)}),
    }


def run_isolation(ctx: RunContext, setting: Setting, params: IsolationParams
                  ) -> dict[str, float]:
    """Label and word loyalty with label words (or random tokens) isolated in the first or
    last k layers (Sec. 2.2, Fig. 4)."""
    prompts = setting.prompts()
    reference = _all_logits(ctx, setting, prompts, desc="isolation: reference")
    ref_labels = setting.class_scores(reference).argmax(-1)
    gen = ctx.rng("isolation")
    controls = {"label": [p.label_positions for p in prompts],
                "random": [random_rows(p.label_positions, p.target, gen) for p in prompts]}
    ks = [scaled_k(k, setting.num_layers, params.reference_depth) for k in params.ks]
    runs = [(control, where, k, k_used) for control in controls for where in ("first", "last")
            for k, k_used in zip(params.ks, ks, strict=True)]
    metrics: dict[str, float] = {}
    curves: dict[str, list[float]] = {}
    for control, where, k, k_used in ctx.progress(runs, desc="isolation"):
        layers = layer_block(where, k_used, setting.num_layers)
        logits = torch.stack([_logits(setting, p, Isolation(rows, layers))
                              for p, rows in zip(prompts, controls[control], strict=True)])
        key = f"isolation/{control}_{where}{k}"
        label = label_loyalty(setting.class_scores(logits).argmax(-1), ref_labels)
        word = word_loyalty(logits, reference, params.top_k)
        metrics |= {f"{key}/label_loyalty": label, f"{key}/word_loyalty": word,
                    f"{key}/layers": float(k_used)}
        curves.setdefault(f"{control} {where}: label", []).append(label)
        curves.setdefault(f"{control} {where}: word", []).append(word)
    ctx.tracker.log_image("isolation", figures.isolation(
        curves, params.ks, f"Isolation: {_title(ctx)}", ctx.path("isolation.png")))
    return {"isolation/n": float(len(prompts)), **metrics}


def run_deep(ctx: RunContext, setting: Setting, params: DeepParams) -> dict[str, float]:
    """AUCROC_l of the target's attention to each class's label words as a predictor of the
    final prediction, and R_l (Sec. 2.3, Eq. 5)."""
    shots = params.shots or setting.params.shots
    demos = setting.draw_demonstrations(shots)
    prompts = [p for p in (setting.prompt(ex, demos) for ex in setting.test)
               if len(p.ids) <= setting.params.max_length]
    scores, predictions = [], []
    with torch.inference_mode():
        for prompt in ctx.progress(prompts, desc="deep layers"):
            recorder = Recorder(rows=[prompt.target])
            with hooked(setting.model, recorder):
                logits = setting.logits(prompt)
            rows = torch.stack([recorder.attention[layer][0, :, 0]
                                for layer in range(setting.num_layers)])
            scores.append(class_attention(rows, prompt.label_positions, prompt.demo_labels,
                                          setting.num_classes).numpy())
            predictions.append(int(setting.class_scores(logits).argmax()))
    aucs = layer_aucs(np.stack(scores), np.array(predictions))
    metrics = {"deep/n": float(len(prompts)),
               "deep/predicted_classes": float(len(set(predictions)))}
    if np.isnan(aucs).all():  # one class predicted throughout: no AUC is defined
        return metrics
    shares = cumulative_share(aucs)
    ctx.tracker.log_image("deep", figures.deep_layers(
        aucs, shares, f"Deep layers: {_title(ctx)}", ctx.path("deep_layers.png")))
    half = len(aucs) // 2
    return {
        **metrics,
        "deep/auc_last": float(aucs[-1]),
        "deep/auc_max": float(aucs.max()),
        "deep/auc_argmax_layer": float(aucs.argmax()),
        "deep/R_half": float(shares[half - 1]),
        **_per_layer("deep", {"auc": aucs, "R": shares}),
    }


def run_reweighting(ctx: RunContext, setting: Setting, params: ReweightingParams
                    ) -> dict[str, float]:
    """Accuracy of 1-shot ICL, ``baseline_shots``-shot ICL and anchor re-weighting (Sec. 3.1,
    Table 1): beta is trained with the run's ``optim`` / ``trainer`` on the extra examples."""
    prompts = setting.prompts()
    check_same_context(prompts)
    extra = setting.sample_examples(setting.train, params.train_per_class,
                                    ctx.seed_for("reweighting"), setting.demonstrations)
    train = [setting.prompt(ex) for ex in extra]
    module = AnchorReweighting(setting.num_layers, setting.num_heads,
                               check_same_context(prompts + train)).to(setting.device)
    trainer = Trainer.from_context(
        ctx, name="reweighting", model=module,
        loss_fn=lambda m, prompt: reweighting_loss(setting, m, prompt),
        train_data=SeededBatches(train, 1, seed=ctx.seed_for("shuffle"),
                                 collate_fn=lambda rows: rows[0]),
        log_prefix="reweighting/")
    trainer.fit()
    module.eval()
    icl = _all_logits(ctx, setting, prompts, desc="ICL")
    reweighted = _all_logits(ctx, setting, prompts, module, desc="re-weighted")
    many = setting.draw_demonstrations(params.baseline_shots)
    long_prompts = [p for p in (setting.prompt(ex, many) for ex in setting.test)
                    if len(p.ids) <= setting.params.max_length]
    many_logits = _all_logits(ctx, setting, long_prompts, desc=f"{params.baseline_shots}-shot")
    torch.save(module.state_dict(), ctx.path("reweighting_beta.pt"))
    return {
        "reweighting/n": float(len(prompts)),
        "reweighting/icl_acc": _accuracy(setting, prompts, icl),
        "reweighting/acc": _accuracy(setting, prompts, reweighted),
        "reweighting/icl_many_acc": _accuracy(setting, long_prompts, many_logits),
        "reweighting/icl_many_n": float(len(long_prompts)),
        "reweighting/beta_abs_mean": float(module.beta.detach().abs().mean()),
    }


def run_compression(ctx: RunContext, setting: Setting, params: CompressionParams
                    ) -> dict[str, float]:
    """Hidden_anchor and its controls against full ICL: loyalty, accuracy, speed-up (Sec. 3.2,
    Tables 2-3)."""
    rows = compare_compression(setting, setting.prompts(), params.methods, top_k=params.top_k,
                               trials=params.trials,
                               generator=np.random.default_rng(ctx.seed_for("compression")))
    (ctx.run_dir / "compression.json").write_text(json.dumps(rows, indent=1))
    return {"compression/n": float(len(setting.prompts())),
            **{f"compression/{method}/{key}": value
               for method, row in rows.items() for key, value in row.items()}}


def run_diagnosis(ctx: RunContext, setting: Setting, params: DiagnosisParams
                  ) -> dict[str, float]:
    """Predicted (anchor-key distances) vs measured (pairwise AUC) confusion (Sec. 3.3)."""
    if params.pca_components > len(setting.test):
        raise ConfigError("task.diagnosis.pca_components",
                          f"{params.pca_components} > {len(setting.test)} test examples",
                          "raise task.icl.test_size or lower the component count")
    out = diagnose(setting, layer=params.layer, components=params.pca_components)
    matrices = {k: out[k].tolist() for k in ("predicted", "measured")}
    (ctx.run_dir / "confusion.json").write_text(json.dumps(matrices, indent=1))
    ctx.tracker.log_image("diagnosis", plot_confusions(
        out["predicted"], out["measured"], setting.template.label_words,
        ctx.path("confusion.png")))
    values = {k: float(out[k]) for k in ("layer", "pearson", "spearman", "examples", "accuracy")}
    return {f"diagnosis/{k}": v for k, v in values.items() if np.isfinite(v)}


RUNNERS = {
    "saliency": run_saliency,
    "isolation": run_isolation,
    "deep": run_deep,
    "reweighting": run_reweighting,
    "compression": run_compression,
    "diagnosis": run_diagnosis,
}


def run_anchors(ctx: RunContext, task: AnchorsTask) -> dict[str, float]:
    """Every analysis of ``task.analyses`` on the run's model and dataset."""
    setting = load_setting(ctx, task.icl)
    (ctx.run_dir / "demonstrations.json").write_text(
        json.dumps(setting.demonstrations, indent=1, default=str))
    metrics: dict[str, float] = {}
    for name in task.analyses:
        metrics |= RUNNERS[name](ctx, setting, getattr(task, name))
    return metrics
