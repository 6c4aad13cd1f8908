"""Tables of finished ESFT runs (the README's results section).

    .venv/bin/python -m papers.esft.report [runs/esft ...]

Per backbone, experiment and selection thresholds: exact match per task, the task average
and the general-ability average of every method beside the paper's Table 1/2 averages; then
the efficiency columns (trainable parameters, checkpoint size, training time, experts trained
per layer); then the pretraining runs' routing concentration. Mean ± std over the newest run
per seed.
"""

from __future__ import annotations

from collections.abc import Sequence

from common.report import Run, format_mean, report_cli, seed_values

METHODS = {"vanilla": "vanilla (no training)", "fft": "FFT", "lora": "LoRA",
           "esft_token": "ESFT-Token", "esft_gate": "ESFT-Gate",
           "esft_token_random": "ESFT-Token, random experts",
           "esft_gate_random": "ESFT-Gate, random experts",
           "esft_token_shared": "ESFT-Token + shared experts",
           "esft_gate_shared": "ESFT-Gate + shared experts"}
PAPER_TASK = {"vanilla": 33.6, "fft": 51.0, "lora": 44.9, "esft_token": 49.4, "esft_gate": 50.2}
PAPER_GENERAL = {"vanilla": 62.4, "fft": 58.8, "lora": 59.1, "esft_token": 61.5,
                 "esft_gate": 60.6}
PAPER_TIME = {"fft": "28.5 min", "lora": "16.5 min", "esft_token": "19.8 min",
              "esft_gate": "20.9 min"}
PAPER_STORAGE = {"fft": "28.6 GB", "esft_token": "2.57 GB", "esft_gate": "3.20 GB"}


def _pct(values: dict[str, list[float]], metric: str) -> str:
    return format_mean((100 * v for v in values.get(metric, [])), 1)


def _paper(table: dict[str, object], method: str) -> str:
    return str(table.get(method, "-"))


def tasks_of(values: dict[str, list[float]]) -> list[str]:
    return sorted({k.split("/")[0] for k in values if k.endswith("/em")
                   and not k.startswith("avg/")})


def main_table(title: str, values: dict[str, list[float]]) -> list[str]:
    tasks = tasks_of(values)
    head = " | ".join(f"{t} EM" for t in tasks)
    out = [f"### {title}: task and general ability (%)", "",
           f"| method | {head} | task avg | paper task avg | general | paper general |",
           "| --- |" + " --- |" * (len(tasks) + 4)]
    for m, label in METHODS.items():
        if f"avg/{m}/em" not in values:
            continue
        cells = " | ".join(_pct(values, f"{t}/{m}/em") for t in tasks)
        out.append(f"| {label} | {cells} | {_pct(values, f'avg/{m}/em')} | "
                   f"{_paper(PAPER_TASK, m)} | {_pct(values, f'avg/{m}/general/acc')} | "
                   f"{_paper(PAPER_GENERAL, m)} |")
    out += ["", f"### {title}: efficiency (mean over tasks)", "",
            "| method | trainable params | checkpoint | train time | experts / layer | "
            "paper time | paper storage |", "| --- |" + " --- |" * 6]
    for m, label in METHODS.items():
        if f"avg/{m}/trainable" not in values:
            continue
        experts = [v for t in tasks for v in values.get(f"{t}/{m}/experts_per_layer", [])]
        out.append(
            f"| {label} | {format_mean(values[f'avg/{m}/trainable'], 0)} | "
            f"{format_mean((v / 1e6 for v in values[f'avg/{m}/checkpoint_bytes']), 2)} MB | "
            f"{format_mean(values.get(f'avg/{m}/time/train_s', []), 1)} s | "
            f"{format_mean(experts, 1) if experts else '-'} | {_paper(PAPER_TIME, m)} | "
            f"{_paper(PAPER_STORAGE, m)} |")
    return out


def routing_table(model: str, values: dict[str, list[float]]) -> list[str]:
    names = sorted(k.split("/")[1] for k in values
                   if k.startswith("routing/") and k.endswith("_share")
                   and k != "routing/uniform_share")
    pairs = sorted(k.split("/", 2)[2] for k in values if k.startswith("routing/overlap/"))
    share = next((k.split("/")[-1] for k in values if k.startswith("routing/")
                  and k.endswith("_share") and k != "routing/uniform_share"), "")
    out = [f"### {model}: routing concentration ({share.replace('_', ' ')} of the token "
           "selection ratio, mean over MoE layers; uniform "
           f"{format_mean(values['routing/uniform_share'], 2)})", "",
           "| domain / task | share | general acc (%) |", "| --- | --- | --- |"]
    for name in names:
        domain_acc = values.get(f"general/{name}/acc")
        out.append(f"| {name} | {format_mean(values[f'routing/{name}/{share}'], 3)} | "
                   f"{format_mean((100 * v for v in domain_acc), 1) if domain_acc else '-'} |")
    if pairs:
        out += ["", "Routing overlap (sum_i min(r_a,i, r_b,i), mean over MoE layers; 1 = the "
                "same experts, 0 = disjoint):", "", "| | " + " | ".join(names) + " |",
                "| --- |" + " --- |" * len(names)]
        for a in names:
            row = []
            for b in names:
                key = f"routing/overlap/{a}~{b}" if f"{a}~{b}" in pairs else \
                    f"routing/overlap/{b}~{a}"
                row.append("1" if a == b else format_mean(values.get(key, []), 2))
            out.append(f"| {a} | " + " | ".join(row) + " |")
    return out


def report(runs: Sequence[Run]) -> str:
    lines: list[str] = []
    cells = seed_values(runs, ("model.name", "name", "task.p_token", "task.p_gate"))
    for (model, name, p_token, p_gate), values in sorted(cells.items()):
        if "routing/uniform_share" in values:
            lines += routing_table(model, values) + [""]
        if any(k.startswith("avg/") for k in values):
            title = f"{model}, {name} (p_token {p_token}, p_gate {p_gate})"
            lines += main_table(title, values) + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(report_cli("esft", __doc__, report))
