"""The paper's five experiments, one ``run_<name>(ctx, task) -> dict`` each, with ``task`` a
validated dataclass built from the config's ``task:`` node.

A run is one (model, data, seed); sweeps over depth, edit rate or AdaEdge settings happen
inside it, sweeps over models / datasets / seeds are Hydra multiruns (``paper.mk``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy.stats import pearsonr
from torch import Tensor
from torch_geometric.data import Data

from common.context import RunContext
from common.graph.hops import UNREACHED
from common.params import ConfigError, check_choice, check_positive
from papers.madgap import report
from papers.madgap.adagraph import EdgeEditConfig, adjust_edges
from papers.madgap.mad import HopMasks, HopRelation, mad, mad_gap, mad_reg_loss
from papers.madgap.topology import add_random_edges, inter_class, remove_inter_class_edges
from papers.madgap.training import load_graph, train_node_classifier

EDITS = ("remove_inter", "add_inter", "add_intra")
"""Oracle topology edits: drop inter-class edges, add random inter- or intra-class pairs."""

MASKS_FROM = ("original", "edited")


def _check_depths(key: str, depths: Sequence[int]) -> None:
    if not depths:
        raise ConfigError(key, "is empty", f"give at least one depth, e.g. {key}=[2]")
    for i, depth in enumerate(depths):
        check_positive(f"{key}[{i}]", depth)


def _check_relation(relation: HopRelation) -> None:
    """Neighbour (1..k hops) and remote (>= m hops) must be disjoint and searchable."""
    check_positive("relation.neighbour_hops", relation.neighbour_hops)
    if not relation.neighbour_hops < relation.remote_hops < UNREACHED:
        raise ConfigError(
            "relation.remote_hops",
            f"must lie in ({relation.neighbour_hops}, {UNREACHED}), got {relation.remote_hops}",
            "remote pairs must be farther than neighbour pairs (the paper: 3 and 8)",
        )


@dataclass
class SmoothingTask:
    """Experiment 1: the depths to train; ``chunk_rows`` rows per MAD block (None: from a
    256 MB budget)."""

    depths: list[int]
    chunk_rows: int | None = None

    def __post_init__(self) -> None:
        _check_depths("depths", self.depths)
        check_positive("chunk_rows", self.chunk_rows)


@dataclass
class MadgapAccTask:
    """Experiment 2: the depths to train, the hop relation of MADGap, and whether to report
    MADGap of the hidden layers too (``per_layer``)."""

    depths: list[int]
    relation: HopRelation = field(default_factory=HopRelation)
    per_layer: bool = False

    def __post_init__(self) -> None:
        _check_depths("depths", self.depths)
        _check_relation(self.relation)


@dataclass
class TopologyTask:
    """Experiment 3: the oracle ``edits`` (:data:`EDITS`) at each of ``rates``, on a model of
    ``num_layers``; MADGap's hop masks from the ``original`` or the ``edited`` graph."""

    edits: list[str]
    rates: list[float]
    num_layers: int
    relation: HopRelation = field(default_factory=HopRelation)
    masks_from: str = "edited"

    def __post_init__(self) -> None:
        for i, edit in enumerate(self.edits):
            check_choice(f"edits[{i}]", edit, EDITS)
        for i, rate in enumerate(self.rates):
            check_positive(f"rates[{i}]", rate, allow_zero=True)
            if rate > 1 and "remove_inter" in self.edits:
                raise ConfigError(
                    f"rates[{i}]",
                    f"remove_inter removes at most all inter-class edges, got rate {rate}",
                    "keep rates <= 1.0",
                )
        check_positive("num_layers", self.num_layers)
        _check_relation(self.relation)
        check_choice("masks_from", self.masks_from, MASKS_FROM)


@dataclass
class MadregTask:
    """Experiment 4: MADReg's ``weight`` (lambda) on a model of ``num_layers``."""

    num_layers: int
    weight: float
    relation: HopRelation = field(default_factory=HopRelation)

    def __post_init__(self) -> None:
        check_positive("num_layers", self.num_layers)
        check_positive("weight", self.weight, allow_zero=True)
        _check_relation(self.relation)


@dataclass
class AdagraphTask:
    """Experiment 5: AdaEdge settings to try (``grid``; empty: the baseline alone), up to
    ``rounds`` edit-and-retrain rounds each, on a model of ``num_layers``."""

    num_layers: int
    rounds: int
    grid: list[EdgeEditConfig]
    relation: HopRelation = field(default_factory=HopRelation)

    def __post_init__(self) -> None:
        check_positive("num_layers", self.num_layers)
        check_positive("rounds", self.rounds)
        for i, setting in enumerate(self.grid):
            for name in ("remove_threshold", "add_threshold"):
                value = getattr(setting, name)
                if not 0.0 <= value <= 1.0:
                    raise ConfigError(
                        f"grid[{i}].{name}",
                        f"must be in [0, 1], got {value}",
                        "a threshold is a class probability",
                    )
            check_positive(f"grid[{i}].max_remove", setting.max_remove, allow_zero=True)
            check_positive(f"grid[{i}].max_add", setting.max_add, allow_zero=True)
        _check_relation(self.relation)


def _label(ctx: RunContext) -> str:
    return f"{ctx.cfg.model.name} on {ctx.cfg.data.name}"


def _slug(ctx: RunContext) -> str:
    return f"{ctx.cfg.model.name}_{ctx.cfg.data.name}"


def _pearson(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """``pearson_r`` and ``pearson_p``; empty (undefined) for < 3 points or a constant side."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return {}
    result = pearsonr(x, y)
    return {"pearson_r": float(result.statistic), "pearson_p": float(result.pvalue)}


def _masks(data: Data, relation: HopRelation, targets: Tensor | None = None) -> HopMasks:
    return HopMasks(data.edge_index, data.num_nodes, targets, relation)


def run_smoothing(ctx: RunContext, task: SmoothingTask) -> dict[str, float]:
    """Experiment 1 ("smoothing is the nature of GNNs"): MAD^global (Eq. 1-4, all pairs) of
    every layer of trained models of each depth."""
    data = load_graph(ctx)
    metrics: dict[str, float] = {}
    curves: dict[str, list[float]] = {}
    for depth in ctx.progress(task.depths, desc="depth"):
        trained = train_node_classifier(ctx, data, depth, f"L{depth}")
        values = [float(mad(h, chunk_rows=task.chunk_rows)) for h in trained.hidden]
        curves[f"{depth} layers"] = values
        step = {f"L{depth}/layer{i}/mad_global": v for i, v in enumerate(values, 1)}
        step[f"L{depth}/test/acc"] = trained.metrics["test/acc"]
        ctx.tracker.log(step, step=depth)
        metrics.update(step)
        metrics[f"L{depth}/last/mad_global"] = values[-1]
    path = report.mad_per_layer(
        curves, f"MAD per layer: {_label(ctx)}", ctx.path(f"smoothing_{_slug(ctx)}.png")
    )
    ctx.tracker.log_image("smoothing", path)
    return metrics


def run_madgap_acc(ctx: RunContext, task: MadgapAccTask) -> dict[str, float]:
    """Experiment 2 (MADGap-accuracy correlation): MADGap (Eq. 5) of the last layer and test
    accuracy across depths, and their Pearson correlation (the paper's per-model, per-dataset
    value); when depth 1 is among the depths, also ``pearson_r_from2`` over depths >= 2 alone,
    since the under-fitted 1-layer model's low accuracy and low MADGap can carry r by itself."""
    data = load_graph(ctx)
    masks = _masks(data, task.relation)
    metrics: dict[str, float] = {}
    gaps, accs = [], []
    for depth in ctx.progress(task.depths, desc="depth"):
        trained = train_node_classifier(ctx, data, depth, f"L{depth}")
        gap = mad_gap(trained.hidden[-1], masks)
        step = {
            f"L{depth}/test/acc": trained.metrics["test/acc"],
            f"L{depth}/val/acc": trained.metrics["val/acc"],
            f"L{depth}/madgap": float(gap.gap),
            f"L{depth}/mad_neb": float(gap.neighbour),
            f"L{depth}/mad_rmt": float(gap.remote),
            f"L{depth}/mad_global": float(mad(trained.hidden[-1])),
        }
        if task.per_layer:
            for i, h in enumerate(trained.hidden[:-1], 1):
                step[f"L{depth}/layer{i}/madgap"] = float(mad_gap(h, masks).gap)
        ctx.tracker.log(step, step=depth)
        metrics.update(step)
        gaps.append(float(gap.gap))
        accs.append(trained.metrics["test/acc"])
    metrics.update(_pearson(gaps, accs))
    deep = [i for i, depth in enumerate(task.depths) if depth >= 2]
    if len(deep) < len(task.depths):
        deep_r = _pearson([gaps[i] for i in deep], [accs[i] for i in deep])
        metrics.update({f"{key}_from2": value for key, value in deep_r.items()})
    title = f"{_label(ctx)}: r = {metrics.get('pearson_r', math.nan):.3f}"
    path = report.gap_vs_accuracy(
        {_label(ctx): (gaps, accs)}, title, ctx.path(f"madgap_acc_{_slug(ctx)}.png")
    )
    ctx.tracker.log_image("madgap_acc", path)
    return metrics


def _edited_graph(ctx: RunContext, edit: str, data: Data, rate: float) -> Tensor:
    """The oracle edit of ``data``'s graph at ``rate``. Every edit draws from a fresh generator
    of the ``topology`` stream, so the removals at increasing rates are nested."""
    generator = ctx.rng("topology")
    edges, labels = data.edge_index.cpu(), data.y.cpu()
    if edit == "remove_inter":
        return remove_inter_class_edges(edges, labels, rate, generator)
    return add_random_edges(edges, labels, rate, generator, same_class=edit == "add_intra")


def run_topology(ctx: RunContext, task: TopologyTask) -> dict[str, float]:
    """Experiment 3 ("topology affects the information-to-noise ratio"): oracle edits of the
    topology with the gold labels (remove inter-class edges / add inter- or intra-class edges
    at each rate); MADGap and accuracy should move together.

    ``task.masks_from``: MADGap's hop masks from the ``original`` graph (the same node pairs at
    every rate) or the ``edited`` graph the model propagates on.
    """
    data = load_graph(ctx)
    original = _masks(data, task.relation)
    baseline: tuple[float, float, float] | None = None
    metrics: dict[str, float] = {}
    curves: dict[str, tuple[list[float], list[float], list[float]]] = {}
    gaps, accs = [], []
    for edit in task.edits:
        curve: tuple[list[float], list[float], list[float]] = ([], [], [])
        for rate in ctx.progress(task.rates, desc=edit):
            if rate == 0 and baseline is not None:
                acc, gap, inter = baseline
            else:
                edges = _edited_graph(ctx, edit, data, rate).to(ctx.device)
                trained = train_node_classifier(
                    ctx, data, task.num_layers, f"{edit}_r{rate:g}", edge_index=edges
                )
                masks = original
                if task.masks_from == "edited":
                    masks = HopMasks(edges, data.num_nodes, None, task.relation)
                acc = trained.metrics["test/acc"]
                gap = float(mad_gap(trained.hidden[-1], masks).gap)
                inter = float(inter_class(edges, data.y).float().mean())
                if rate == 0:
                    baseline = (acc, gap, inter)
            prefix = f"{edit}/rate{rate:g}"
            metrics.update(
                {f"{prefix}/test/acc": acc, f"{prefix}/madgap": gap, f"{prefix}/inter_frac": inter}
            )
            for values, value in zip(curve, (rate, acc, gap), strict=True):
                values.append(value)
            gaps.append(gap)
            accs.append(acc)
        curves[edit] = curve
    metrics.update(_pearson(gaps, accs))
    path = report.topology_curves(
        curves, f"Topology edits: {_label(ctx)}", ctx.path(f"topology_{_slug(ctx)}.png")
    )
    ctx.tracker.log_image("topology", path)
    return metrics


def run_madreg(ctx: RunContext, task: MadregTask) -> dict[str, float]:
    """Experiment 4 (MADReg): ``L = CE - weight * MADGap`` on the training nodes' last-layer
    representation, against the same model and init without it."""
    data = load_graph(ctx)
    train_masks = _masks(data, task.relation, data.train_mask)
    all_masks = _masks(data, task.relation)

    def regularised(loss: Tensor, hidden: list[Tensor]) -> Tensor:
        return mad_reg_loss(loss, hidden[-1], train_masks, task.weight)

    metrics: dict[str, float] = {}
    for label, extra in (("baseline", None), ("madreg", regularised)):
        trained = train_node_classifier(ctx, data, task.num_layers, label, extra_loss=extra)
        metrics[f"{label}/test/acc"] = trained.metrics["test/acc"]
        metrics[f"{label}/val/acc"] = trained.metrics["val/acc"]
        metrics[f"{label}/madgap"] = float(mad_gap(trained.hidden[-1], all_masks).gap)
        metrics[f"{label}/madgap_train"] = float(mad_gap(trained.hidden[-1], train_masks).gap)
    metrics["delta/test/acc"] = metrics["madreg/test/acc"] - metrics["baseline/test/acc"]
    return metrics


def run_adagraph(ctx: RunContext, task: AdagraphTask) -> dict[str, float]:
    """Experiment 5 (AdaEdge / AdaGraph): train, edit the graph from the predictions
    (:func:`adjust_edges`), retrain, for up to ``task.rounds`` rounds per setting of
    ``task.grid``; the setting and round with the best validation accuracy is kept (the
    baseline unless one beats it), and its test accuracy is reported beside the baseline's."""
    data = load_graph(ctx)
    masks = _masks(data, task.relation)
    labels = data.y.cpu()
    base = train_node_classifier(ctx, data, task.num_layers, "base")
    metrics = {
        "test/acc_before": base.metrics["test/acc"],
        "val/acc_before": base.metrics["val/acc"],
        "madgap_before": float(mad_gap(base.hidden[-1], masks).gap),
    }
    best = {
        "val": base.metrics["val/acc"],
        "test": base.metrics["test/acc"],
        "madgap": metrics["madgap_before"],
        "setting": -1.0,
        "round": 0.0,
        "removed": 0.0,
        "added": 0.0,
    }
    for index, setting in enumerate(ctx.progress(task.grid, desc="AdaEdge settings")):
        edges, probs = data.edge_index.cpu(), base.probs.cpu()
        removed = added = 0
        removed_inter = added_intra = 0
        for round_ in range(1, task.rounds + 1):
            edit = adjust_edges(edges, probs, setting)
            if edit.removed.shape[1] + edit.added.shape[1] == 0:
                break
            edges = edit.edge_index
            removed += edit.removed.shape[1]
            added += edit.added.shape[1]
            removed_inter += int(inter_class(edit.removed, labels).sum())
            added_intra += int((~inter_class(edit.added, labels)).sum())
            trained = train_node_classifier(
                ctx, data, task.num_layers, f"s{index}_r{round_}", edge_index=edges.to(ctx.device)
            )
            probs = trained.probs.cpu()
            ctx.tracker.log(
                {
                    f"setting{index}/val/acc": trained.metrics["val/acc"],
                    f"setting{index}/test/acc": trained.metrics["test/acc"],
                },
                step=round_,
            )
            if trained.metrics["val/acc"] > best["val"]:
                best = {
                    "val": trained.metrics["val/acc"],
                    "test": trained.metrics["test/acc"],
                    "madgap": float(mad_gap(trained.hidden[-1], masks).gap),
                    "setting": float(index),
                    "round": float(round_),
                    "removed": float(removed),
                    "added": float(added),
                }
                if removed:
                    best["removed_inter_frac"] = removed_inter / removed
                if added:
                    best["added_intra_frac"] = added_intra / added
    metrics.update(
        {
            "test/acc_after": best["test"],
            "val/acc_after": best["val"],
            "madgap_after": best["madgap"],
            "delta/test/acc": best["test"] - metrics["test/acc_before"],
            "chosen/setting": best["setting"],
            "chosen/round": best["round"],
            "chosen/removed": best["removed"],
            "chosen/added": best["added"],
        }
    )
    for key in ("removed_inter_frac", "added_intra_frac"):
        if key in best:
            metrics[f"chosen/{key}"] = best[key]
    return metrics
