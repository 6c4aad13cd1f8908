"""Tables of finished fine_purifying runs (the README's results section).

    .venv/bin/python -m papers.fine_purifying.report [runs/fine_purifying ...]

One table per (model, dataset, attack): ACC and ASR of every defence (mean ± std over the
newest run per seed), then the rho and clean-set-size curves. The paper's numbers (BERT-base,
Table 1 as quoted in the issue) stand beside the Fine-purifying row where they exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from common.report import Run, format_mean, report_cli, seed_values

DEFENCES = {"none": "no defence", "ft": "fine-tuning (FT)",
            "reinit": "re-init classifier + FT", "fine_pruning": "Fine-pruning",
            "onion": "ONION (input filter)", "fine_mixing": "Fine-mixing (random rho + E-PUR)",
            "drift": "top rho by delta^2 alone (ablation)",
            "fine_purifying": "Fine-purifying (top rho by delta^2 / H)"}
PAPER_ACC = {"ag_news": None, "imdb": 90.96, "qqp": 80.76, "qnli": 85.46}
PAPER_ASR = {"ag_news": 3.3}


def _v(values: dict[str, list[float]], metric: str) -> str:
    return format_mean((100 * v for v in values.get(metric, [])), 1)


def table(key: tuple[str, str, str], values: dict[str, list[float]]) -> list[str]:
    model, data, attack = key
    out = [f"### {attack}, {data}, {model} (ACC / ASR, %)", "",
           "| defence | ACC | ASR | paper ACC | paper ASR |", "| --- | --- | --- | --- | --- |"]
    for name, label in DEFENCES.items():
        if f"{name}/acc" not in values:
            continue
        paper = name == "fine_purifying"
        acc = PAPER_ACC.get(data) if paper else None
        asr = PAPER_ASR.get(data) if paper else None
        out.append(f"| {label} | {_v(values, f'{name}/acc')} | {_v(values, f'{name}/asr')} | "
                   f"{'-' if acc is None else acc} | {'-' if asr is None else asr} |")
    for kind, label in (("rho", "reset fraction rho"), ("clean", "clean examples")):
        points = sorted({k.split("/")[1][len(kind):] for k in values
                         if k.count("/") == 2 and k.split("/")[1].startswith(kind)
                         and k.split("/")[1][len(kind):].replace(".", "").isdigit()}, key=float)
        if not points:
            continue
        methods = [m for m in DEFENCES if any(k.startswith(f"{m}/{kind}") for k in values)]
        out += ["", f"ACC / ASR (%) against the {label}:", "",
                "| defence | " + " | ".join(points) + " |", "| --- |" + " --- |" * len(points)]
        for m in methods:
            out.append(f"| {DEFENCES[m]} | " + " | ".join(
                f"{_v(values, f'{m}/{kind}{p}/acc')} / {_v(values, f'{m}/{kind}{p}/asr')}"
                for p in points) + " |")
    return out


def report(runs: Sequence[Run]) -> str:
    lines: list[str] = []
    cells = seed_values(runs, ("model.name", "data.name", "task.attack.trigger.attack"))
    for key, values in sorted(cells.items()):
        lines += table(key, values) + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(report_cli("fine_purifying", __doc__, report))
