"""ReNode experiments: the TINL / TINL+QINL tables and the Totoro-vs-performance analysis.

One run of :func:`run_renode` is one table cell pair: for every split seed x init seed it trains
the same backbone with and without ReNode weights on the same labelled set, and reports
weighted-F1 / macro-F1 mean ± population std x 100 over the runs (Chen et al. 2021, Sec. 4.1-4.2).

Seeds: the label splits are the official ones (``task.split_seeds``, python-random shuffle seeds
0-4) and ignore the run's ``seed`` by design, so every replicate is tested on the paper's splits;
the model initialisation (and dropout) of init j comes from init seed ``seed * inits + j``, so
``seed=0`` gives the official init seeds 0..inits-1 and ``seed=1`` an independent replicate.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from hydra.utils import instantiate
from torch_geometric.data import Data

from common.context import RunContext
from common.graph.data import num_classes as count_classes
from common.graph.node_classification import fit_full_batch
from common.graph.ppr import METHODS, cached_ppr_rows
from common.metrics import f1_scores, mean_std
from common.params import ConfigError, check_choice, check_positive
from common.seeding import seeded
from papers.renode.losses import LOSSES, aggregate, per_node_loss
from papers.renode.report import correlation_plot, correlation_title
from papers.renode.splits import VAL_ORDERS, Split, step_split, tinl_split
from papers.renode.totoro import node_totoro, renode_weights

log = logging.getLogger(__name__)

SETTINGS = ("tinl", "step")
VARIANTS = ("base", "renode")


@dataclass
class SplitParams:
    """How a labelled set is drawn (Sec. 4.1): ``tinl`` (``train_per_class`` labels per class)
    or ``step`` (TINL + QINL: step quantity imbalance from ``labelling_ratio``,
    ``imbalance_ratio`` and ``head_classes``)."""

    setting: str = "tinl"
    train_per_class: int = 20
    val_per_class: int = 30
    val_order: str = "id"
    labelling_ratio: float = 0.05
    imbalance_ratio: float = 5.0
    head_classes: list[int] = field(default_factory=lambda: [0, 1, 2])

    def __post_init__(self) -> None:
        check_choice("split.setting", self.setting, SETTINGS)
        check_choice("split.val_order", self.val_order, VAL_ORDERS)
        for key in ("train_per_class", "val_per_class", "labelling_ratio", "imbalance_ratio"):
            check_positive(f"split.{key}", getattr(self, key))


@dataclass
class PPRParams:
    """Π for Totoro (Sec. 3.1): teleport ``alpha``, ``power`` (sparse rows) or ``dense``."""

    alpha: float = 0.15
    method: str = "power"
    tol: float = 1e-6
    cache: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError("ppr.alpha", f"must lie in (0, 1), got {self.alpha}",
                              "set ppr.alpha=0.15 (the official teleport probability)")
        check_choice("ppr.method", self.method, METHODS)
        check_positive("ppr.tol", self.tol)


@dataclass
class ReNodeWeights:
    """Range of the cosine-annealed ReNode weights (Sec. 3.2)."""

    w_min: float = 0.5
    w_max: float = 1.5

    def __post_init__(self) -> None:
        check_positive("renode.w_min", self.w_min, allow_zero=True)
        if self.w_max < self.w_min:
            raise ConfigError("renode.w_max", f"{self.w_max} is below w_min {self.w_min}",
                              "set renode.w_max >= renode.w_min")


@dataclass
class LossParams:
    """Hyper-parameters of the quantity-imbalance losses (official values)."""

    focal_gamma: float = 2.0
    cb_beta: float = 0.9999

    def __post_init__(self) -> None:
        check_positive("loss_params.focal_gamma", self.focal_gamma, allow_zero=True)
        if not 0.0 < self.cb_beta < 1.0:
            raise ConfigError("loss_params.cb_beta", f"must lie in (0, 1), got {self.cb_beta}",
                              "set loss_params.cb_beta=0.9999")


@dataclass
class ReNodeProtocol:
    """What every ReNode experiment shares: split, number of inits, loss, PPR."""

    split: SplitParams = field(default_factory=SplitParams)
    inits: int = 3
    loss: str = "ce"
    ppr: PPRParams = field(default_factory=PPRParams)
    loss_params: LossParams = field(default_factory=LossParams)

    def __post_init__(self) -> None:
        check_positive("inits", self.inits)
        check_choice("loss", self.loss, LOSSES)

    def init_seeds(self, seed: int) -> list[int]:
        """Init seeds of replicate ``seed``: ``seed * inits + j`` for j < inits (disjoint
        blocks; ``seed=0`` gives the official 0..inits-1)."""
        return [seed * self.inits + j for j in range(self.inits)]


@dataclass
class ReNodeTask(ReNodeProtocol):
    """One table cell pair: ``variants`` over the official ``split_seeds`` x ``inits``."""

    split_seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    renode: ReNodeWeights = field(default_factory=ReNodeWeights)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.split_seeds:
            raise ConfigError("split_seeds", "is empty", "give e.g. split_seeds=[0,1,2,3,4]")
        if not self.variants:
            raise ConfigError("variants", "is empty", f"give a subset of {list(VARIANTS)}")
        for variant in self.variants:
            check_choice("variants", variant, VARIANTS)


@dataclass
class CorrelationTask(ReNodeProtocol):
    """Totoro vs F1 over ``num_labelled_sets`` split seeds from ``first_split_seed`` on."""

    num_labelled_sets: int = 60
    first_split_seed: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_labelled_sets < 3:
            raise ConfigError("num_labelled_sets", f"{self.num_labelled_sets} is too few",
                              "a correlation needs at least 3 labelled sets")
        check_positive("first_split_seed", self.first_split_seed, allow_zero=True)


def load_data(ctx: RunContext) -> tuple[Data, int]:
    """The graph of ``ctx.cfg.data`` and its number of classes."""
    data = instantiate(ctx.cfg.data)
    return data, count_classes(data)


def draw_split(labels: torch.Tensor, num_classes: int, seed: int, split: SplitParams) -> Split:
    """A TINL (``setting=tinl``) or TINL+QINL (``setting=step``) split of ``labels``."""
    if split.setting == "tinl":
        return tinl_split(labels, num_classes, seed, split.train_per_class,
                          split.val_per_class, split.val_order)
    return step_split(labels, num_classes, seed, split.labelling_ratio, split.imbalance_ratio,
                      split.head_classes, split.val_per_class, split.val_order)


def labelled_totoro(
    ctx: RunContext, data: Data, labelled: torch.Tensor, num_classes: int, ppr: PPRParams
) -> torch.Tensor:
    """T_v of every labelled node (Sec. 3.1), from cached PPR rows of the labelled set."""
    rows = cached_ppr_rows(
        data.edge_index,
        data.num_nodes,
        labelled,
        alpha=ppr.alpha,
        method=ppr.method,
        cache_dir=ctx.cache_dir / "renode" / "ppr" if ppr.cache else None,
        dataset=str(ctx.cfg.data.name),
        tol=ppr.tol,
        device=ctx.device,
    )
    return node_totoro(rows, data.y[labelled], num_classes)


def record_seeds(ctx: RunContext, split_seeds: list[int], init_seeds: list[int]) -> None:
    """Write ``seeds.json`` and log which seeds this run used: the splits are the protocol's
    fixed seeds (independent of ``seed`` by design), the inits follow ``seed``."""
    seeds = {
        "seed": ctx.seed,
        "split_seeds": split_seeds,
        "init_seeds": init_seeds,
        "note": "split seeds are the paper's protocol and ignore `seed` by design; "
        "init seed j = seed * inits + j",
    }
    ctx.path("seeds.json").write_text(json.dumps(seeds, indent=2))
    log.info("seed %d: split seeds %s (fixed by the protocol, independent of seed), "
             "init seeds %s", ctx.seed, split_seeds, init_seeds)


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
    loss_params: LossParams,
) -> dict[str, float]:
    """Train ``ctx.cfg.model`` on ``split.train`` with early stopping on validation weighted-F1
    and return the best model's test weighted/macro F1 (the official protocol, Sec. 4.1).

    The model's initial weights and dropout masks draw from the global RNGs inside
    ``seeded(init_seed)`` (restored afterwards), so a training depends on its init seed only;
    optimizer and lr schedule are ``cfg.optim`` / ``cfg.schedule``.
    """
    device = ctx.device
    x, edge_index, y = data.x.to(device), data.edge_index.to(device), data.y.to(device)
    train, val, test = split.train.to(device), split.val.to(device), split.test.to(device)
    y_train = y[train]
    counts = torch.bincount(y_train, minlength=num_classes)
    weights = node_weights.to(device) if node_weights is not None else None

    def loss_fn(model: torch.nn.Module) -> torch.Tensor:
        logits = model(x, edge_index)[train]
        per_node = per_node_loss(loss, logits, y_train, counts, loss_params.focal_gamma,
                                 loss_params.cb_beta)
        return aggregate(per_node, weights)

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        pred = model(x, edge_index)[val].argmax(1)
        return {"val/weighted_f1": f1_scores(pred, y[val], num_classes)["weighted_f1"]}

    with seeded(init_seed):
        model = instantiate(ctx.cfg.model, in_dim=data.num_features, out_dim=num_classes)
        model = model.to(device)
        fit = fit_full_batch(ctx, name=name, model=model, loss_fn=loss_fn, evaluate=evaluate)
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


def run_renode(ctx: RunContext, task: ReNodeTask) -> dict[str, float]:
    """One table row: ``task.loss`` with (``renode``) and without (``base``) ReNode weighting
    over ``split_seeds`` x ``inits`` runs; test F1 mean ± std x 100 per variant, and the delta.

    The std is the population std (``ddof=0``), as the official script's ``np.std``.
    """
    data, num_classes = load_data(ctx)
    init_seeds = task.init_seeds(ctx.seed)
    record_seeds(ctx, task.split_seeds, init_seeds)
    scores: dict[str, list[dict[str, float]]] = {v: [] for v in task.variants}
    totoros: list[float] = []
    step = 0
    start = time.perf_counter()
    with ctx.path("runs.jsonl").open("w") as runs:
        for split_seed in ctx.progress(task.split_seeds, desc="splits"):
            labelled = draw_split(data.y, num_classes, split_seed, task.split)
            t = labelled_totoro(ctx, data, labelled.train, num_classes, task.ppr)
            totoros.append(t.mean().item())
            weights = renode_weights(t, task.renode.w_min, task.renode.w_max)
            for init_seed in init_seeds:
                for variant in task.variants:
                    result = train_and_test(
                        ctx,
                        data,
                        labelled,
                        num_classes,
                        name=f"{variant}_split{split_seed}_init{init_seed}",
                        init_seed=init_seed,
                        loss=task.loss,
                        node_weights=weights if variant == "renode" else None,
                        loss_params=task.loss_params,
                    )
                    scores[variant].append(result)
                    record = {"variant": variant, "split_seed": split_seed, "init_seed": init_seed}
                    runs.write(json.dumps({**record, **result, "totoro": totoros[-1]}) + "\n")
                    runs.flush()
                    ctx.tracker.log({f"{variant}/{k}": v for k, v in result.items()}, step=step)
                    step += 1
    metrics: dict[str, float] = {
        "totoro/mean": float(np.mean(totoros)),
        "runs_per_variant": float(len(task.split_seeds) * len(init_seeds)),
        "seconds_per_training": (time.perf_counter() - start) / max(step, 1),
    }
    for variant, results in scores.items():
        for key in ("weighted_f1", "macro_f1"):
            mean, std = mean_std([100.0 * r[f"test/{key}"] for r in results], ddof=0)
            metrics[f"{variant}/test_{key}_mean"] = mean
            metrics[f"{variant}/test_{key}_std"] = std
        metrics[f"{variant}/epochs_mean"] = float(np.mean([r["epochs"] for r in results]))
    if set(VARIANTS) <= set(task.variants):
        for key in ("weighted_f1", "macro_f1"):
            metrics[f"delta/test_{key}"] = (
                metrics[f"renode/test_{key}_mean"] - metrics[f"base/test_{key}_mean"]
            )
    return metrics


def run_totoro_correlation(ctx: RunContext, task: CorrelationTask) -> dict[str, float]:
    """Totoro of random labelled sets vs the test F1 of a model trained on them (Sec. 3.1).

    For each of ``num_labelled_sets`` split seeds from ``first_split_seed`` on (fixed by the
    protocol, like the table's splits): draw a labelled set, compute its dataset Totoro (mean
    T_v), train the backbone without ReNode for each init seed and average the test F1. Reports
    the Pearson and Spearman correlations over the labelled sets and writes ``totoro_vs_f1.png``.
    """
    from scipy import stats

    data, num_classes = load_data(ctx)
    split_seeds = list(range(task.first_split_seed,
                             task.first_split_seed + task.num_labelled_sets))
    init_seeds = task.init_seeds(ctx.seed)
    record_seeds(ctx, split_seeds, init_seeds)
    rows = []
    for split_seed in ctx.progress(split_seeds, desc="labelled sets"):
        labelled = draw_split(data.y, num_classes, split_seed, task.split)
        totoro = labelled_totoro(ctx, data, labelled.train, num_classes, task.ppr).mean().item()
        results = [
            train_and_test(
                ctx,
                data,
                labelled,
                num_classes,
                name=f"set{split_seed}_init{init_seed}",
                init_seed=init_seed,
                loss=task.loss,
                node_weights=None,
                loss_params=task.loss_params,
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
    title = correlation_title(str(ctx.cfg.data.name), str(ctx.cfg.model.name), metrics)
    correlation_plot(rows, plot, title)
    ctx.tracker.log_image("totoro_vs_f1", plot)
    return metrics
