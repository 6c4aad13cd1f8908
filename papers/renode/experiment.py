"""ReNode experiments: the TINL / TINL+QINL tables and the Totoro-vs-performance analysis.

One run of :func:`run_renode` is one table cell pair: for every split seed x init seed it trains
the same backbone with and without ReNode weights on the same labelled set, and reports
weighted-F1 / macro-F1 mean ± std x 100 over the runs (Chen et al. 2021, Sec. 4.1-4.2).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from torch_geometric.data import Data

from common.context import RunContext
from common.graph.data import num_classes as count_classes
from common.seeding import seed_everything
from common.training import Trainer
from papers.renode.losses import aggregate, per_node_loss
from papers.renode.metrics import f1_scores
from papers.renode.ppr import cached_ppr_rows
from papers.renode.splits import Split, step_split, tinl_split
from papers.renode.totoro import node_totoro, renode_weights


@dataclass(frozen=True)
class OfficialLrSchedule:
    """lr(e) = lr0 · max(rate^(e - start), floor / lr0) for epochs e > start, else lr0.

    The official schedule (lr 0.0075, x0.95 per epoch after epoch 20, floor 1e-4), as a
    ``LambdaLR`` factor of the number of finished epochs (the next epoch is that number + 1).
    """

    start: int = 20
    rate: float = 0.95
    floor_ratio: float = 1e-4 / 0.0075

    def __call__(self, finished: int) -> float:
        epoch = finished + 1
        if epoch <= self.start:
            return 1.0
        return max(self.rate ** (epoch - self.start), self.floor_ratio)


def load_data(ctx: RunContext) -> tuple[Data, int]:
    """The graph of ``ctx.cfg.data`` and its number of classes."""
    data = instantiate(ctx.cfg.data)
    return data, count_classes(data)


def draw_split(labels: torch.Tensor, num_classes: int, seed: int, split: dict[str, Any]) -> Split:
    """A TINL (``setting=tinl``) or TINL+QINL (``setting=step``) split of ``labels``."""
    common = {"val_per_class": split["val_per_class"], "val_order": split["val_order"]}
    if split["setting"] == "tinl":
        return tinl_split(labels, num_classes, seed, split["train_per_class"], **common)
    if split["setting"] == "step":
        return step_split(
            labels,
            num_classes,
            seed,
            split["labelling_ratio"],
            split["imbalance_ratio"],
            split["head_classes"],
            **common,
        )
    raise ValueError(f"split.setting must be 'tinl' or 'step', got {split['setting']!r}")


def labelled_totoro(
    ctx: RunContext, data: Data, labelled: torch.Tensor, num_classes: int, ppr: dict[str, Any]
) -> torch.Tensor:
    """T_v of every labelled node (Sec. 3.1), from cached PPR rows of the labelled set."""
    rows = cached_ppr_rows(
        data.edge_index,
        data.num_nodes,
        labelled,
        alpha=ppr["alpha"],
        method=ppr["method"],
        cache_dir=ctx.cache_dir if ppr["cache"] else None,
        dataset=str(ctx.cfg.data.name),
        tol=ppr["tol"],
        device=ctx.device,
    )
    return node_totoro(rows, data.y[labelled], num_classes)


def train_and_test(
    ctx: RunContext,
    data: Data,
    split: Split,
    num_classes: int,
    *,
    name: str,
    init_seed: int,
    loss: str,
    node_weights: torch.Tensor | None,
    optim: dict[str, Any],
    loss_params: dict[str, float],
) -> dict[str, float]:
    """Train ``ctx.cfg.model`` on ``split.train`` with early stopping on validation weighted-F1
    and return the best model's test weighted/macro F1 (the official protocol, Sec. 4.1)."""
    seed_everything(init_seed, bool(ctx.cfg.deterministic))
    device = ctx.device
    x, edge_index, y = data.x.to(device), data.edge_index.to(device), data.y.to(device)
    train, val, test = split.train.to(device), split.val.to(device), split.test.to(device)
    y_train = y[train]
    counts = torch.bincount(y_train, minlength=num_classes)
    weights = node_weights.to(device) if node_weights is not None else None
    model = instantiate(ctx.cfg.model, in_dim=data.num_features, out_dim=num_classes).to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=optim["lr"], weight_decay=optim["weight_decay"]
    )
    schedule = OfficialLrSchedule(
        optim["lr_decay_epoch"], optim["lr_decay_rate"], optim["lr_floor"] / optim["lr"]
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    def loss_fn(model: torch.nn.Module, _: Any) -> torch.Tensor:
        logits = model(x, edge_index)[train]
        return aggregate(per_node_loss(loss, logits, y_train, counts, **loss_params), weights)

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        pred = model(x, edge_index)[val].argmax(1)
        return {"val/weighted_f1": f1_scores(pred, y[val], num_classes)["weighted_f1"]}

    trainer = Trainer.from_context(
        ctx,
        name=name,
        model=model,
        optimizer=optimizer,
        loss_fn=loss_fn,
        train_data=[None],
        evaluate=evaluate,
        scheduler=scheduler,
    )
    fit = trainer.fit()
    model.eval()
    with torch.no_grad():
        pred = model(x, edge_index)[test].argmax(1)
    scores = f1_scores(pred, y[test], num_classes)
    return {
        "test/weighted_f1": scores["weighted_f1"],
        "test/macro_f1": scores["macro_f1"],
        "val/weighted_f1": fit.best_metrics["val/weighted_f1"],
        "best_epoch": float(fit.best_epoch),
        "epochs": float(fit.epochs),
    }


def mean_std_x100(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population std (numpy's default, as the official script) times 100."""
    arr = 100.0 * np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std())


def run_renode(
    ctx: RunContext,
    split: dict[str, Any],
    split_seeds: Sequence[int],
    init_seeds: Sequence[int],
    variants: Sequence[str],
    loss: str,
    renode: dict[str, float],
    ppr: dict[str, Any],
    optim: dict[str, Any],
    loss_params: dict[str, float],
) -> dict[str, float]:
    """One table row: ``loss`` with (``renode``) and without (``base``) ReNode weighting over
    ``split_seeds`` x ``init_seeds`` runs; F1 mean ± std x 100 per variant, and their delta."""
    unknown = set(variants) - {"base", "renode"}
    if unknown:
        raise ValueError(f"task.variants are 'base' and 'renode', got {sorted(unknown)}")
    data, num_classes = load_data(ctx)
    scores: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    totoros: list[float] = []
    log_path = ctx.path("runs.jsonl")
    step = 0
    start = time.perf_counter()
    with log_path.open("w") as log:
        for split_seed in ctx.progress(split_seeds, desc="splits"):
            labelled = draw_split(data.y, num_classes, split_seed, split)
            t = labelled_totoro(ctx, data, labelled.train, num_classes, ppr)
            totoros.append(t.mean().item())
            weights = renode_weights(t, renode["w_min"], renode["w_max"])
            for init_seed in init_seeds:
                for variant in variants:
                    result = train_and_test(
                        ctx,
                        data,
                        labelled,
                        num_classes,
                        name=f"{variant}_split{split_seed}_init{init_seed}",
                        init_seed=init_seed,
                        loss=loss,
                        node_weights=weights if variant == "renode" else None,
                        optim=optim,
                        loss_params=loss_params,
                    )
                    scores[variant].append(result)
                    record = {"variant": variant, "split_seed": split_seed, "init_seed": init_seed}
                    log.write(json.dumps({**record, **result, "totoro": totoros[-1]}) + "\n")
                    log.flush()
                    ctx.tracker.log({f"{variant}/{k}": v for k, v in result.items()}, step=step)
                    step += 1
    metrics: dict[str, float] = {
        "totoro/mean": float(np.mean(totoros)),
        "runs_per_variant": float(len(split_seeds) * len(init_seeds)),
        "seconds_per_training": (time.perf_counter() - start) / max(step, 1),
    }
    for variant, results in scores.items():
        for key in ("weighted_f1", "macro_f1"):
            mean, std = mean_std_x100([r[f"test/{key}"] for r in results])
            metrics[f"{variant}/test_{key}_mean"] = mean
            metrics[f"{variant}/test_{key}_std"] = std
        metrics[f"{variant}/epochs_mean"] = float(np.mean([r["epochs"] for r in results]))
    if {"base", "renode"} <= set(variants):
        for key in ("weighted_f1", "macro_f1"):
            metrics[f"delta/test_{key}"] = (
                metrics[f"renode/test_{key}_mean"] - metrics[f"base/test_{key}_mean"]
            )
    return metrics


def correlation_plot(totoro: Sequence[float], f1: Sequence[float], path: Any, title: str) -> None:
    """Scatter of dataset Totoro against test weighted-F1 with a least-squares line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = np.asarray(totoro), 100.0 * np.asarray(f1)
    slope, intercept = np.polyfit(x, y, 1)
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.scatter(x, y, s=14)
    grid = np.linspace(x.min(), x.max(), 2)
    ax.plot(grid, slope * grid + intercept, color="tab:red", linewidth=1)
    ax.set_xlabel("Totoro of the labelled set")
    ax.set_ylabel("test weighted-F1 (x100)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def run_totoro_correlation(
    ctx: RunContext,
    split: dict[str, Any],
    num_labelled_sets: int,
    first_split_seed: int,
    init_seeds: Sequence[int],
    loss: str,
    ppr: dict[str, Any],
    optim: dict[str, Any],
    loss_params: dict[str, float],
) -> dict[str, float]:
    """Totoro of random labelled sets vs the test F1 of a model trained on them (Sec. 3.1).

    For each of ``num_labelled_sets`` split seeds from ``first_split_seed`` on: draw a labelled
    set, compute its dataset Totoro (mean T_v), train the backbone without ReNode for each init
    seed and average the test F1. Reports the Pearson and Spearman correlations over the
    labelled sets and writes ``totoro_vs_f1.png``.
    """
    from scipy import stats

    data, num_classes = load_data(ctx)
    rows = []
    split_seeds = range(first_split_seed, first_split_seed + num_labelled_sets)
    for split_seed in ctx.progress(split_seeds, desc="labelled sets"):
        labelled = draw_split(data.y, num_classes, split_seed, split)
        totoro = labelled_totoro(ctx, data, labelled.train, num_classes, ppr).mean().item()
        results = [
            train_and_test(
                ctx,
                data,
                labelled,
                num_classes,
                name=f"set{split_seed}_init{init_seed}",
                init_seed=init_seed,
                loss=loss,
                node_weights=None,
                optim=optim,
                loss_params=loss_params,
            )
            for init_seed in init_seeds
        ]
        row = {
            "split_seed": split_seed,
            "totoro": totoro,
            "weighted_f1": float(np.mean([r["test/weighted_f1"] for r in results])),
            "macro_f1": float(np.mean([r["test/macro_f1"] for r in results])),
        }
        rows.append(row)
        ctx.tracker.log(row, step=len(rows) - 1)
    ctx.path("labelled_sets.json").write_text(json.dumps(rows, indent=2))
    totoros = [r["totoro"] for r in rows]
    metrics: dict[str, float] = {"labelled_sets": float(len(rows))}
    for key in ("weighted_f1", "macro_f1"):
        values = [r[key] for r in rows]
        pearson = stats.pearsonr(totoros, values)
        spearman = stats.spearmanr(totoros, values)
        metrics[f"pearson/{key}"] = float(pearson.statistic)
        metrics[f"pearson_p/{key}"] = float(pearson.pvalue)
        metrics[f"spearman/{key}"] = float(spearman.statistic)
        metrics[f"spearman_p/{key}"] = float(spearman.pvalue)
    plot = ctx.path("totoro_vs_f1.png")
    title = (
        f"{ctx.cfg.data.name}, {ctx.cfg.model.name}: Pearson {metrics['pearson/weighted_f1']:.2f}, "
        f"Spearman {metrics['spearman/weighted_f1']:.2f} (n={len(rows)})"
    )
    correlation_plot(totoros, [r["weighted_f1"] for r in rows], plot, title)
    ctx.tracker.log_image("totoro_vs_f1", plot)
    return metrics
