"""One table of every paper's claim from its demo runs: paper | claim | paper's number | ours | s.

    python scripts/glance.py runs/demo-<stamp>      # what `make demo` prints at the end

Each ``demo.yaml`` declares its ``glance`` items (claim, metric, paper, scale); the full per-run
tables stay in ``make results``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from common.report import Run, load_local


def _number(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def rows(runs: list[Run]) -> list[str]:
    """Markdown rows of the glance items of ``runs`` (one run per paper: the newest)."""
    newest: dict[str, Run] = {}
    for run in runs:
        newest[run.paper] = run
    out = []
    for paper, run in sorted(newest.items()):
        seconds = run.wall_time_s
        for item in run.nested.get("glance") or []:
            value = run.metrics.get(item["metric"])
            ours = None if value is None else float(value) * float(item.get("scale", 1))
            took = "" if seconds is None else _number(seconds, 0)
            out.append(f"| {paper} | {item['claim']} | {_number(item.get('paper'))} | "
                       f"{_number(ours)} | {took} |")
            seconds = None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path, help="demo run folders")
    args = parser.parse_args(argv)
    runs = load_local(args.dirs)
    body = rows(runs)
    if not body:
        print("no finished demo run declares glance metrics", file=sys.stderr)
        return 1
    print("accuracies and F1 in percent; seconds: the paper's whole demo run\n")
    print("| paper | claim | paper's number | ours | seconds |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
