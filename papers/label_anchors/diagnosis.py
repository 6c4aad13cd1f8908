"""Anchor distances for error diagnosis (Sec. 3.3): which classes ICL confuses, predicted from
the key vectors of the label words at one deep layer.

The prompt has one demonstration per class, in class-id order. At layer l (GPT2-XL: 32 of 48;
default ``round(2/3 * num_layers)``) the query vector q at the target position and the key
vectors k_i at the label positions are concatenated across heads (heads x d; keys of grouped-
query models repeated per query head, as attention uses them; Llama's are after RoPE).

* Predicted confusion: PCA (10 components) is fitted on the queries of the test prompts; each
  key is projected, without centring, on the components and each coordinate multiplied by the
  queries' standard deviation along that component, k̂_i = (σ_1 v_1·k_i, ..., σ_m v_m·k_i)
  (the official code multiplies by the singular value, σ·sqrt(n-1): the constant cancels in the
  normalisation). Conf^pred_ij = ||k̂_i - k̂_j|| / max_{s≠t} ||k̂_s - k̂_t||, diagonal 1: larger
  means less confusable.
* Measured confusion: Conf_ij (i ≠ j) is the AUC-ROC of "gold is i" among the test examples
  of gold class i or j, scored by p_i / p_j, the ratio of the label-word probabilities; diagonal
  1. Undefined pairs (a class without test examples) are NaN.

Public functions:

* ``diagnosis_layer(num_layers) -> int``: the default layer;
* ``class_ordered_demonstrations(setting) -> list[dict]``: one demonstration per class;
* ``anchor_vectors(setting, prompts, layer) -> (keys (C, H·d), queries (N, H·d), scores (N, C))``;
* ``project_keys(queries, keys, components=10) -> ndarray (C, components)``: k̂;
* ``predicted_confusion(projected) -> ndarray (C, C)``;
* ``measured_confusion(scores, labels, num_classes) -> ndarray (C, C)``;
* ``agreement(predicted, measured) -> {"pearson", "spearman"}`` over the off-diagonal pairs;
* ``diagnose(setting, examples=None, *, layer=None, components=10) -> dict``: all of the above;
* ``plot_confusions(predicted, measured, label_names, path) -> Path``: side-by-side heatmaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import permutations
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.stats import pearsonr, spearmanr
from sklearn.decomposition import PCA
from torch import Tensor

from common.metrics import auroc
from common.report import figure
from papers.label_anchors.attention import Recorder, hooked
from papers.label_anchors.prompting import Prompt
from papers.label_anchors.setting import Setting

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def diagnosis_layer(num_layers: int) -> int:
    """The deep layer of Sec. 3.3: two thirds of the depth (GPT2-XL: 32 of 48)."""
    return round(2 * num_layers / 3)


def class_ordered_demonstrations(setting: Setting) -> list[dict[str, object]]:
    """The first of the setting's demonstrations of each class, in class-id order."""
    first: dict[int, dict[str, object]] = {}
    for demo in setting.demonstrations:
        first.setdefault(int(demo[setting.label_field]), demo)
    missing = set(range(setting.num_classes)) - set(first)
    if missing:
        raise ValueError(f"no demonstration of classes {sorted(missing)}")
    return [first[c] for c in range(setting.num_classes)]


def _heads_concatenated(x: Tensor) -> Tensor:
    """(heads, n, d) -> (n, heads * d)."""
    return x.transpose(0, 1).reshape(x.shape[1], -1)


@torch.inference_mode()
def anchor_vectors(setting: Setting, prompts: Sequence[Prompt], layer: int
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """Keys k_c (C, H·d) at the label position of class c's demonstration (from the first
    prompt: all prompts share the context), queries (N, H·d) at each prompt's target position
    and label-word scores (N, C), all float on the CPU."""
    classes = sorted(prompts[0].demo_labels)
    if classes != list(range(setting.num_classes)):
        raise ValueError(f"error diagnosis needs one demonstration per class, got {classes}")
    context = prompts[0].ids[: prompts[0].context_length]
    if any(p.ids[: p.context_length] != context for p in prompts):
        raise ValueError("error diagnosis needs one demonstration set: the prompts' contexts "
                         "differ")
    recorder = Recorder(layers=[layer], rows=[-1], keep_qk=True)
    queries, scores, keys = [], [], None
    with hooked(setting.model, recorder):
        for prompt in prompts:
            scores.append(setting.class_scores(setting.logits(prompt)).cpu())
            queries.append(_heads_concatenated(recorder.queries[layer][0])[0].float().cpu())
            if keys is None:
                by_class = [prompt.label_positions[prompt.demo_labels.index(c)] for c in classes]
                keys = _heads_concatenated(recorder.keys[layer][0, :, by_class]).float().cpu()
    return keys, torch.stack(queries), torch.stack(scores)


def project_keys(queries: ArrayLike, keys: ArrayLike, components: int = 10) -> np.ndarray:
    """k̂ (C, components): keys projected, uncentred, on the queries' principal directions and
    scaled by the queries' standard deviation along each (Sec. 3.3)."""
    pca = PCA(n_components=components, svd_solver="full").fit(np.asarray(queries, np.float64))
    return np.asarray(keys, np.float64) @ pca.components_.T * np.sqrt(pca.explained_variance_)


def predicted_confusion(projected: ArrayLike) -> np.ndarray:
    """Conf^pred (C, C): pairwise distances of k̂ over the largest one, diagonal 1."""
    k = np.asarray(projected, np.float64)
    distances = np.linalg.norm(k[:, None] - k[None], axis=-1)
    confusion = distances / distances.max()
    np.fill_diagonal(confusion, 1.0)
    return confusion


def measured_confusion(scores: ArrayLike, labels: ArrayLike, num_classes: int) -> np.ndarray:
    """Conf (C, C): AUC-ROC of gold == i vs gold == j scored by p_i / p_j. ``scores`` are
    label-word logits or log-probabilities (N, C): the softmax normaliser cancels in the ratio,
    ranked here as s_i - s_j (same AUC, no underflow). NaN where a class has no example."""
    s = torch.as_tensor(np.asarray(scores, np.float64))
    y = torch.as_tensor(np.asarray(labels))
    confusion = np.eye(num_classes)
    for i, j in permutations(range(num_classes), 2):
        if (y == i).any() and (y == j).any():
            pair = (y == i) | (y == j)
            confusion[i, j] = auroc(s[pair, i] - s[pair, j], y[pair] == i)
        else:
            confusion[i, j] = np.nan
    return confusion


def agreement(predicted: ArrayLike, measured: ArrayLike) -> dict[str, float]:
    """Pearson and Spearman correlations of the two matrices' upper off-diagonal entries
    (both are symmetric), over the pairs where both are defined; NaN with fewer than three
    such pairs (a binary task has one pair: nothing to correlate)."""
    rows, cols = np.triu_indices(np.asarray(predicted).shape[0], k=1)
    a, b = np.asarray(predicted)[rows, cols], np.asarray(measured)[rows, cols]
    defined = np.isfinite(a) & np.isfinite(b)
    a, b = a[defined], b[defined]
    if len(a) < 3:
        return {"pearson": float("nan"), "spearman": float("nan")}
    return {"pearson": float(pearsonr(a, b).statistic),
            "spearman": float(spearmanr(a, b).statistic)}


def diagnose(setting: Setting, examples: Sequence[Mapping[str, object]] | None = None, *,
             layer: int | None = None, components: int = 10) -> dict[str, object]:
    """Sec. 3.3 on ``examples`` (default: the test sample) with one demonstration per class:
    ``predicted`` and ``measured`` confusion matrices (ndarrays), their ``pearson`` and
    ``spearman`` agreement, the ``layer``, the number of ``examples`` and ICL ``accuracy``."""
    layer = diagnosis_layer(setting.num_layers) if layer is None else layer
    demos = class_ordered_demonstrations(setting)
    prompts = [setting.prompt(ex, demos) for ex in (setting.test if examples is None
                                                    else examples)]
    prompts = [p for p in prompts if len(p.ids) <= setting.params.max_length]
    keys, queries, scores = anchor_vectors(setting, prompts, layer)
    labels = torch.tensor([p.query_label for p in prompts])
    predicted = predicted_confusion(project_keys(queries, keys, components))
    measured = measured_confusion(scores, labels, setting.num_classes)
    return {"layer": layer, "predicted": predicted, "measured": measured,
            **agreement(predicted, measured), "examples": len(prompts),
            "accuracy": float((scores.argmax(-1) == labels).float().mean())}


def _heatmap(ax: Axes, matrix: np.ndarray, names: Sequence[str], title: str) -> None:
    ax.imshow(matrix, cmap="YlGnBu", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                color="white" if value > 0.6 else "black")
    ax.set_title(title, fontsize=9)


def plot_confusions(predicted: ArrayLike, measured: ArrayLike, label_names: Sequence[str],
                    path: Path | str) -> Path:
    """The paper's error-diagnosis figure: predicted (anchor distances) and measured (AUC-ROC)
    confusion side by side, larger = less confusable; written to ``path``."""
    with figure(Path(path), size=(9.0, 4.2)) as (fig, ax):
        ax.remove()
        left, right = fig.subplots(1, 2)
        _heatmap(left, np.asarray(predicted), label_names, "Predicted (anchor distance)")
        _heatmap(right, np.asarray(measured), label_names, "Measured (AUC-ROC)")
    return Path(path)
