"""Markdown tables (mean ± std over seeds) of local runs or a W&B project; optional PNG plots.

    python scripts/compare.py runs                       # every finished run under runs/ (tall)
    python scripts/compare.py runs/madgap --metric test/acc --plot plots/
    python scripts/compare.py runs/renode --wide          # a column per metric
    python scripts/compare.py --wandb entity/project

Runs are grouped by experiment and by the config values that differ; a repeated seed keeps its
newest finished run, so n counts distinct seeds (mean ± sample std).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.report import (
    group_runs,
    load_local,
    load_wandb,
    markdown_long,
    markdown_wide,
    plot_groups,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("dirs", nargs="*", type=Path, help="run folders to scan for results.json")
    parser.add_argument("--wandb", metavar="ENTITY/PROJECT", help="read runs from W&B instead")
    parser.add_argument("--metric", help="only metrics whose name contains this text")
    parser.add_argument("--wide", action="store_true",
                        help="one table per experiment, a column per metric")
    parser.add_argument("--plot", type=Path, metavar="DIR", help="write bar charts (PNG) here")
    args = parser.parse_args(argv)
    runs = load_wandb(args.wandb) if args.wandb else load_local(args.dirs or [Path("runs")])
    if not runs:
        print("no finished runs found", file=sys.stderr)
        return 1
    groups = group_runs(runs)
    print(markdown_wide(groups, args.metric) if args.wide else markdown_long(groups, args.metric))
    if args.plot:
        for path in plot_groups(groups, args.plot, args.metric):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
