"""The paper's five experiments, one ``run_<name>(ctx, **params) -> dict`` each.

A run is one (model, data, seed); sweeps over depth, edit rate or AdaEdge settings happen
inside it, sweeps over models / datasets / seeds are Hydra multiruns (``paper.mk``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from scipy.stats import pearsonr
from torch import Tensor

from common.context import RunContext
from papers.madgap import plots
from papers.madgap.adagraph import EdgeEditConfig, adjust_edges
from papers.madgap.mad import HopMasks, HopRelation, mad, mad_gap, mad_reg_loss
from papers.madgap.topology import add_random_edges, inter_class, remove_inter_class_edges
from papers.madgap.training import Optim, Trained, load_graph, train_node_classifier


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


def _masks(data: Any, relation: dict[str, Any], targets: Tensor | None = None) -> HopMasks:
    return HopMasks(data.edge_index, data.num_nodes, targets, HopRelation(**relation))


def _image(ctx: RunContext, key: str, path: Any) -> None:
    ctx.tracker.log_image(key, path)


def run_smoothing(
    ctx: RunContext, depths: Sequence[int], chunk_rows: int | None = None, **optim: float
) -> dict[str, float]:
    """Experiment 1 ("smoothing is the nature of GNNs"): MAD^global of every layer of
    trained models of each depth."""
    data = load_graph(ctx)
    metrics: dict[str, float] = {}
    curves: dict[str, list[float]] = {}
    for depth in ctx.progress(depths, desc="depth"):
        trained = train_node_classifier(ctx, data, depth, f"L{depth}", optim=Optim(**optim))
        values = [float(mad(h, chunk_rows=chunk_rows)) for h in trained.hidden]
        curves[f"{depth} layers"] = values
        step = {f"L{depth}/layer{i}/mad_global": v for i, v in enumerate(values, 1)}
        step[f"L{depth}/test/acc"] = trained.metrics["test/acc"]
        ctx.tracker.log(step, step=depth)
        metrics.update(step)
        metrics[f"L{depth}/last/mad_global"] = values[-1]
    path = plots.mad_per_layer(
        curves, f"MAD per layer: {_label(ctx)}", ctx.path(f"smoothing_{_slug(ctx)}.png")
    )
    _image(ctx, "smoothing", path)
    return metrics


def run_madgap_acc(
    ctx: RunContext,
    depths: Sequence[int],
    relation: dict[str, Any],
    per_layer: bool = False,
    **optim: float,
) -> dict[str, float]:
    """Experiment 2 (MADGap-accuracy correlation): MADGap of the last layer and test accuracy
    across depths, and their Pearson correlation (the paper's per-model, per-dataset value)."""
    data = load_graph(ctx)
    masks = _masks(data, relation)
    metrics: dict[str, float] = {}
    gaps, accs = [], []
    for depth in ctx.progress(depths, desc="depth"):
        trained = train_node_classifier(ctx, data, depth, f"L{depth}", optim=Optim(**optim))
        gap = mad_gap(trained.hidden[-1], masks)
        step = {
            f"L{depth}/test/acc": trained.metrics["test/acc"],
            f"L{depth}/val/acc": trained.metrics["val/acc"],
            f"L{depth}/madgap": float(gap.gap),
            f"L{depth}/mad_neb": float(gap.neighbour),
            f"L{depth}/mad_rmt": float(gap.remote),
            f"L{depth}/mad_global": float(mad(trained.hidden[-1])),
        }
        if per_layer:
            for i, h in enumerate(trained.hidden[:-1], 1):
                step[f"L{depth}/layer{i}/madgap"] = float(mad_gap(h, masks).gap)
        ctx.tracker.log(step, step=depth)
        metrics.update(step)
        gaps.append(float(gap.gap))
        accs.append(trained.metrics["test/acc"])
    metrics.update(_pearson(gaps, accs))
    title = f"{_label(ctx)}: r = {metrics.get('pearson_r', math.nan):.3f}"
    path = plots.gap_vs_accuracy(
        {_label(ctx): (gaps, accs)}, title, ctx.path(f"madgap_acc_{_slug(ctx)}.png")
    )
    _image(ctx, "madgap_acc", path)
    return metrics


def _edited_graph(edit: str, data: Any, rate: float, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    edges, labels = data.edge_index.cpu(), data.y.cpu()
    if edit == "remove_inter":
        return remove_inter_class_edges(edges, labels, rate, generator)
    if edit in ("add_inter", "add_intra"):
        return add_random_edges(edges, labels, rate, generator, same_class=edit == "add_intra")
    raise ValueError(f"unknown topology edit {edit!r}: remove_inter, add_inter or add_intra")


def run_topology(
    ctx: RunContext,
    edits: Sequence[str],
    rates: Sequence[float],
    num_layers: int,
    relation: dict[str, Any],
    masks_from: str = "edited",
    **optim: float,
) -> dict[str, float]:
    """Experiment 3 ("topology affects the information-to-noise ratio"): oracle edits of the
    topology with the gold labels (remove inter-class edges / add inter- or intra-class edges
    at each rate); MADGap and accuracy should move together.

    ``masks_from``: MADGap's hop masks from the ``original`` graph (the same node pairs at every
    rate) or the ``edited`` graph the model propagates on.
    """
    if masks_from not in ("original", "edited"):
        raise ValueError(f"masks_from must be 'original' or 'edited', got {masks_from!r}")
    data = load_graph(ctx)
    original = _masks(data, relation)
    baseline: tuple[float, float, float] | None = None
    metrics: dict[str, float] = {}
    curves: dict[str, tuple[list[float], list[float], list[float]]] = {}
    gaps, accs = [], []
    for edit in edits:
        curve: tuple[list[float], list[float], list[float]] = ([], [], [])
        for rate in ctx.progress(rates, desc=edit):
            if rate == 0 and baseline is not None:
                acc, gap, inter = baseline
            else:
                edges = _edited_graph(edit, data, rate, ctx.seed).to(ctx.device)
                name = f"{edit}_r{rate:g}"
                trained = train_node_classifier(
                    ctx, data, num_layers, name, edge_index=edges, optim=Optim(**optim)
                )
                masks = original
                if masks_from == "edited":
                    masks = HopMasks(edges, data.num_nodes, None, original.relation)
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
    path = plots.topology_curves(
        curves, f"Topology edits: {_label(ctx)}", ctx.path(f"topology_{_slug(ctx)}.png")
    )
    _image(ctx, "topology", path)
    return metrics


def run_madreg(
    ctx: RunContext,
    num_layers: int,
    weight: float,
    relation: dict[str, Any],
    **optim: float,
) -> dict[str, float]:
    """Experiment 4 (MADReg): MADReg, ``L = CE - weight * MADGap`` on the training nodes'
    last-layer representation, against the same model and init without it."""
    data = load_graph(ctx)
    train_masks = _masks(data, relation, data.train_mask)
    all_masks = _masks(data, relation)

    def regularised(loss: Tensor, hidden: list[Tensor]) -> Tensor:
        return mad_reg_loss(loss, hidden[-1], train_masks, weight)

    metrics: dict[str, float] = {}
    for label, extra in (("baseline", None), ("madreg", regularised)):
        trained: Trained = train_node_classifier(
            ctx, data, num_layers, label, extra_loss=extra, optim=Optim(**optim)
        )
        metrics[f"{label}/test/acc"] = trained.metrics["test/acc"]
        metrics[f"{label}/val/acc"] = trained.metrics["val/acc"]
        metrics[f"{label}/madgap"] = float(mad_gap(trained.hidden[-1], all_masks).gap)
        metrics[f"{label}/madgap_train"] = float(mad_gap(trained.hidden[-1], train_masks).gap)
    metrics["delta/test/acc"] = metrics["madreg/test/acc"] - metrics["baseline/test/acc"]
    return metrics


def run_adagraph(
    ctx: RunContext,
    num_layers: int,
    rounds: int,
    grid: Sequence[dict[str, Any]],
    relation: dict[str, Any],
    **optim: float,
) -> dict[str, float]:
    """Experiment 5 (AdaEdge / AdaGraph): AdaEdge. Train, edit the graph from the predictions
    (:func:`adjust_edges`), retrain, for up to ``rounds`` rounds per setting of ``grid``; the
    setting and round with the best validation accuracy is kept (the baseline unless one
    beats it), and its test accuracy is reported beside the baseline's."""
    data = load_graph(ctx)
    masks = _masks(data, relation)
    labels = data.y.cpu()
    base = train_node_classifier(ctx, data, num_layers, "base", optim=Optim(**optim))
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
    for index, setting in enumerate(ctx.progress(grid, desc="AdaEdge settings")):
        config = EdgeEditConfig(**setting)
        edges, probs = data.edge_index.cpu(), base.probs.cpu()
        removed = added = 0
        removed_inter = added_intra = 0
        for round_ in range(1, rounds + 1):
            edit = adjust_edges(edges, probs, config)
            if edit.removed.shape[1] + edit.added.shape[1] == 0:
                break
            edges = edit.edge_index
            removed += edit.removed.shape[1]
            added += edit.added.shape[1]
            removed_inter += int(inter_class(edit.removed, labels).sum())
            added_intra += int((~inter_class(edit.added, labels)).sum())
            trained = train_node_classifier(
                ctx,
                data,
                num_layers,
                f"s{index}_r{round_}",
                edge_index=edges.to(ctx.device),
                optim=Optim(**optim),
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
