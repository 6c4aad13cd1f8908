"""Paper | ours tables of finished cascadebert runs (the README's results section).

    .venv/bin/python -m papers.cascadebert.report [runs/cascadebert ...]

One block per (small, large, dataset): the cascade at every tau beside the official shipped
MRPC results (2L -> 12L BERT, ``saved_models/`` of lancopku/CascadeBERT), the methods at the
cascade's speed-up, and calibration. Each value is the mean over the newest run per seed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from common.metrics import mean_std
from common.report import Run, newest_per, report_cli

OFFICIAL_MRPC = {  # tau: (acc, F1, speed-up), official run, seed 1234, 408 dev examples
    0.6: (80.88, 87.30, 4.12), 0.7: (81.62, 87.73, 3.21), 0.8: (82.60, 88.34, 2.63),
    0.9: (84.31, 89.40, 2.12),
}
OFFICIAL_MRPC_SMALL = (78.92, 86.04)  # the 2L model alone (the shipped speed-up-1.00 file)


def _key(run: Run) -> tuple[str, str, str]:
    def spec(which: str) -> str:
        layers = run.config.get(f"task.{which}.layers")
        return str(run.config.get(f"task.{which}.model")) + (f"-{layers}L" if layers else "")
    return spec("small"), spec("large"), str(run.config.get("data.name"))


def _mean(runs: Sequence[Run], metric: str, scale: float = 100.0) -> str:
    values = [float(r.metrics[metric]) * scale for r in runs if metric in r.metrics]
    if not values:
        return "-"
    mean, std = mean_std(values)
    return f"{mean:.2f}" if len(values) < 2 else f"{mean:.2f} ± {std:.2f}"


def _seconds_speedup(runs: Sequence[Run], prefix: str) -> str:
    ratios = [r.metrics["alone/large/seconds"] / r.metrics[f"{prefix}/seconds"] for r in runs
              if f"{prefix}/seconds" in r.metrics and "alone/large/seconds" in r.metrics]
    return "-" if not ratios else f"{sum(ratios) / len(ratios):.2f}"


def _row(name: str, paper: Sequence[float | None] | None, runs: Sequence[Run],
         prefix: str) -> str:
    cells = [("-" if v is None else f"{v:.2f}") for v in (paper or (None,) * 3)]
    ours = [_mean(runs, f"{prefix}/acc"), _mean(runs, f"{prefix}/f1"),
            _mean(runs, f"{prefix}/speedup_layers", 1), _mean(runs, f"{prefix}/speedup_flops", 1),
            _seconds_speedup(runs, prefix)]
    return f"| {name} | " + " | ".join(cells + ours) + " |"


def block(key: tuple[str, str, str], runs: Sequence[Run]) -> list[str]:
    small, large, data = key
    taus = sorted({float(m.split("/")[1][3:]) for r in runs for m in r.metrics
                   if m.startswith("cascade/tau") and m.endswith("/acc")})
    out = [f"### {data}: {small} -> {large} (n = {len(runs)} seed(s))", "",
           "| setting | paper acc | paper F1 | paper speed-up | ours acc | ours F1 | "
           "ours speed-up (layers) | ours speed-up (FLOPs) | ours speed-up (wall) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for tau in taus:
        paper = OFFICIAL_MRPC.get(tau) if data == "mrpc" else None
        out.append(_row(f"cascade, tau {tau:g}", paper, runs, f"cascade/tau{tau:g}"))
    names = {"small": "small alone (DAR)", "small_plain": "small alone (no DAR)",
             "large": "large alone"}
    for which, name in names.items():
        paper = (*OFFICIAL_MRPC_SMALL, None) if (data == "mrpc" and which == "small") else None
        out.append(_row(name, paper, runs, f"alone/{which}"))
    out += ["", "| at the cascade's glance tau | accuracy | ECE (%) |", "| --- | --- | --- |",
            f"| cascade (DAR) | {_mean(runs, 'glance/cascade_acc')} | "
            f"{_mean(runs, 'glance/cascade_ece')} |",
            f"| DeeBERT, same speed-up (interpolated) | "
            f"{_mean(runs, 'glance/deebert_acc_at_cascade_speedup')} | - |",
            f"| PABEE, same speed-up (interpolated) | "
            f"{_mean(runs, 'glance/pabee_acc_at_cascade_speedup')} | - |",
            f"| speed-up (layers) | {_mean(runs, 'glance/cascade_speedup', 1)} | |",
            "", "| model | ECE (%), 10 bins |", "| --- | --- |",
            f"| small, DAR | {_mean(runs, 'ece/small')} |",
            f"| small, no DAR | {_mean(runs, 'ece/small_no_dar')} |",
            f"| large | {_mean(runs, 'ece/large')} |"]
    return out


def report(runs: Sequence[Run]) -> str:
    groups: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
    for run in runs:
        groups[_key(run)].append(run)
    out: list[str] = []
    for key in sorted(groups):
        out += block(key, newest_per(groups[key], ("seed",))) + [""]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(report_cli("cascadebert", __doc__, report))
