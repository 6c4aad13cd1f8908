"""Paper | ours tables of finished label_anchors runs (the README's results section).

    .venv/bin/python -m papers.label_anchors.report [runs/label_anchors ...]

Runs are grouped by (model, dataset); each metric is the mean ± sample std over the newest run
per seed that logged it (any experiment: ``all``, ``reweighting``, ...). The paper's numbers
are GPT2-XL's (Table 1 and Sec. 3.2 of Wang et al., EMNLP 2023).
"""

from __future__ import annotations

from collections.abc import Sequence

from common.report import Run, format_mean, report_cli, seed_values

DATASETS = ("sst2", "trec", "ag_news", "emo")
TABLE1 = {  # Table 1, GPT2-XL, accuracy (%)
    "ICL, 1 demonstration per class": ("reweighting/icl_acc", (61.28, 57.56, 73.32, 15.44)),
    "ICL, 5 demonstrations per class": ("reweighting/icl_many_acc", (64.75, 60.40, 52.52, 9.80)),
    "anchor re-weighting": ("reweighting/acc", (90.07, 60.92, 81.94, 41.64)),
}
COMPRESSION = {  # Table 2, GPT2-XL, averaged over the four tasks (%)
    "hidden_anchor": (79.47, 62.17, 45.04),
    "text_anchor": (51.05, 36.65, 38.77),
    "hidden_random": (48.96, 5.59, 39.96),
    "hidden_random_top": (None, None, None),
}
SPEEDUP = (1.1, 1.5, 2.5, 1.4)  # Table 3, GPT2-XL, Hidden_anchor vs full ICL


def _ours(values: dict[str, list[float]], metric: str, scale: float = 100.0) -> str:
    return format_mean(v * scale for v in values.get(metric, []))


def _paper(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table1(values: dict[str, dict[str, list[float]]], model: str) -> list[str]:
    out = [f"### Table 1: accuracy (%), {model}", "",
           "| setting | " + " | ".join(f"{d} paper | {d} ours" for d in DATASETS) + " |",
           "| --- |" + " --- | --- |" * len(DATASETS)]
    for row, (metric, paper) in TABLE1.items():
        out.append(f"| {row} | " + " | ".join(
            f"{_paper(p)} | {_ours(values.get(d, {}), metric)}"
            for d, p in zip(DATASETS, paper, strict=True)) + " |")
    return out


def compression(values: dict[str, dict[str, list[float]]], model: str) -> list[str]:
    present = [d for d in DATASETS if any(k.startswith("compression/") for k in values.get(d, {}))]
    if not present:
        return []
    out = [f"### Compression (Sec. 3.2), {model}: label loyalty / word loyalty / accuracy (%)",
           "", "| method | paper (4-task mean) | " + " | ".join(present) + " |",
           "| --- | --- |" + " --- |" * len(present)]
    for method, paper in COMPRESSION.items():
        ours = [" / ".join(_ours(values[d], f"compression/{method}/{k}")
                           for k in ("label_loyalty", "word_loyalty", "accuracy"))
                for d in present]
        out.append(f"| {method} | {' / '.join(_paper(p) for p in paper)} | "
                   + " | ".join(ours) + " |")
    out.append("| ICL accuracy | - | " + " | ".join(
        _ours(values[d], "compression/icl/accuracy") for d in present) + " |")
    out.append("| Hidden_anchor speed-up (x) | " + ", ".join(
        f"{d} {s}" for d, s in zip(DATASETS, SPEEDUP, strict=True)) + " | " + " | ".join(
        _ours(values[d], "compression/hidden_anchor/speedup", 1.0) for d in present) + " |")
    return out


def flows(values: dict[str, dict[str, list[float]]], model: str) -> list[str]:
    """Saliency, isolation, deep-layer and diagnosis summaries per dataset."""
    rows = {
        "saliency: first layer where S_pq stays above S_wp": ("saliency/crossover_layer", 1.0),
        "saliency: S_wp share, shallow half (%)": ("saliency/wp_share_shallow", 100.0),
        "saliency: S_pq share, deep half (%)": ("saliency/pq_share_deep", 100.0),
        "isolation: label loyalty, label words, first k=5 (%)":
            ("isolation/label_first5/label_loyalty", 100.0),
        "isolation: label loyalty, label words, last k=5 (%)":
            ("isolation/label_last5/label_loyalty", 100.0),
        "isolation: label loyalty, random words, first k=5 (%)":
            ("isolation/random_first5/label_loyalty", 100.0),
        "isolation: word loyalty, label words, first k=5 (%)":
            ("isolation/label_first5/word_loyalty", 100.0),
        "isolation: word loyalty, random words, first k=5 (%)":
            ("isolation/random_first5/word_loyalty", 100.0),
        "deep: max AUCROC_l": ("deep/auc_max", 1.0),
        "deep: R_l at half depth": ("deep/R_half", 1.0),
        "diagnosis: Pearson r, predicted vs measured confusion": ("diagnosis/pearson", 1.0),
    }
    present = [d for d in DATASETS if d in values]
    out = [f"### Information flow, {model}", "", "| quantity | " + " | ".join(present) + " |",
           "| --- |" + " --- |" * len(present)]
    for row, (metric, scale) in rows.items():
        out.append(f"| {row} | " + " | ".join(_ours(values[d], metric, scale)
                                              for d in present) + " |")
    return out


def report(runs: Sequence[Run]) -> str:
    values = seed_values(runs, ("model.name", "data.name"))
    models = sorted({model for model, _ in values})
    out: list[str] = []
    for model in models:
        per_data = {d: dict(v) for (m, d), v in values.items() if m == model}
        out += table1(per_data, model) + [""] + compression(per_data, model) + [""]
        out += flows(per_data, model) + [""]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(report_cli("label_anchors", __doc__, report))
