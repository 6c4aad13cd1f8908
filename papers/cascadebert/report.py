"""Paper | ours tables of finished cascadebert runs (the README's results section).

    .venv/bin/python -m papers.cascadebert.report [runs/cascadebert ...]

One block per (small, large, dataset): the cascade at every tau beside the official shipped
MRPC results (2L -> 12L BERT, ``saved_models/`` of lancopku/CascadeBERT), every method's
accuracy interpolated at matched speed-ups (from each run's per-point metrics), and
calibration. Each value is the mean over the newest run per seed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence

from common.report import Run, format_mean, newest_per, report_cli
from papers.cascadebert.evaluation import Point, interpolate
from papers.cascadebert.experiment import nearest
from papers.cascadebert.figures import LABELS

OFFICIAL_MRPC = {  # tau: (acc, F1, speed-up), official run, seed 1234, 408 dev examples
    0.6: (80.88, 87.30, 4.12), 0.7: (81.62, 87.73, 3.21), 0.8: (82.60, 88.34, 2.63),
    0.9: (84.31, 89.40, 2.12),
}
OFFICIAL_MRPC_SMALL = (78.92, 86.04)  # the 2L model alone (the shipped speed-up-1.00 file)
METHODS = ("cascade", "cascade_no_dar", "deebert", "pabee")
SPEEDUPS = (2.0, 3.0, 4.0)


def _key(run: Run) -> tuple[str, str, str, str]:
    def spec(which: str) -> str:
        layers = run.config.get(f"task.{which}.layers")
        return str(run.config.get(f"task.{which}.model")) + (f"-{layers}L" if layers else "")
    return run.name, spec("small"), spec("large"), str(run.config.get("data.name"))


def _mean(runs: Sequence[Run], metric: str, scale: float = 100.0) -> str:
    return format_mean(float(r.metrics[metric]) * scale for r in runs if metric in r.metrics)


def curve(run: Run, method: str) -> list[Point]:
    """A method's operating points rebuilt from a run's ``<method>/<setting>/...`` metrics."""
    settings = sorted({k.split("/")[1] for k in run.metrics if k.startswith(f"{method}/")
                       and k.endswith("/speedup_layers")})
    m = run.metrics
    return [Point(method, s, {"acc": m[f"{method}/{s}/acc"]}, m[f"{method}/{s}/speedup_layers"],
                  m[f"{method}/{s}/speedup_flops"], m[f"{method}/{s}/ece"]) for s in settings]


def _mean_of(runs: Sequence[Run], value: Callable[[Run], float], scale: float = 100.0) -> str:
    return format_mean(value(r) * scale for r in runs)


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


def block(key: tuple[str, str, str, str], runs: Sequence[Run]) -> list[str]:
    name, small, large, data = key
    taus = sorted({tau for r in runs for tau in json.loads(r.config.get("task.taus", "[]"))})
    out = [f"### {data}: {small} -> {large}, experiment {name} (n = {len(runs)} seed(s))", "",
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
    out += ["", "| accuracy (%) at speed-up (layers, interpolated) | "
            + " | ".join(LABELS[m] for m in METHODS) + " |", "| --- |" + " --- |" * len(METHODS)]
    for target in SPEEDUPS:
        out.append(f"| {target:g}x | " + " | ".join(
            _mean_of(runs, lambda r, m=m, t=target: interpolate(curve(r, m), t)) for m in METHODS)
            + " |")
    out += ["", "| ECE (%), 10 bins | value |", "| --- | --- |",
            f"| small alone, DAR | {_mean(runs, 'ece/small')} |",
            f"| small alone, no DAR | {_mean(runs, 'ece/small_no_dar')} |",
            f"| large alone | {_mean(runs, 'ece/large')} |"]
    for method in METHODS:
        out.append(f"| {LABELS[method]}, point nearest {SPEEDUPS[-1]:g}x | " + _mean_of(
            runs, lambda r, m=method: nearest(curve(r, m), SPEEDUPS[-1]).ece) + " |")
    return out


def report(runs: Sequence[Run]) -> str:
    groups: dict[tuple[str, str, str, str], list[Run]] = defaultdict(list)
    for run in runs:
        groups[_key(run)].append(run)
    out: list[str] = []
    for key in sorted(groups):
        out += block(key, newest_per(groups[key], ("seed",))) + [""]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(report_cli("cascadebert", __doc__, report))
