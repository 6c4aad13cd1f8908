"""Table of finished ReNode runs: base vs ReNode, weighted / macro F1 mean ± std x 100.

python -m papers.renode.report [runs/renode]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load_rows(root: Path) -> list[dict]:
    """One row per finished ``run_renode`` run under ``root`` (newest run per setting wins)."""
    rows: dict[tuple, dict] = {}
    for path in sorted(root.rglob("results.json"), key=lambda p: p.stat().st_mtime):
        result = json.loads(path.read_text())
        metrics, cfg = result.get("metrics", {}), result.get("config", {})
        if result.get("status") != "finished" or "base/test_weighted_f1_mean" not in metrics:
            continue
        task = cfg["task"]
        key = (
            cfg["name"],
            cfg["data"]["name"],
            cfg["model"]["name"],
            task["split"]["setting"],
            task["loss"],
        )
        rows[key] = {
            "key": key,
            "metrics": metrics,
            "wall_s": result.get("wall_time_s"),
            "wins": paired_wins(path.parent / "runs.jsonl"),
        }
    return list(rows.values())


def paired_wins(path: Path) -> str:
    """How many (split, init) pairs ReNode beats the base run on test weighted-F1, as "k/n"."""
    if not path.exists():
        return "-"
    scores: dict[tuple, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        run = json.loads(line)
        pair = (run["split_seed"], run["init_seed"])
        scores.setdefault(pair, {})[run["variant"]] = run["test/weighted_f1"]
    pairs = [s for s in scores.values() if {"base", "renode"} <= set(s)]
    wins = sum(s["renode"] > s["base"] for s in pairs)
    return f"{wins}/{len(pairs)}"


def cell(metrics: dict, variant: str, name: str) -> str:
    mean = metrics[f"{variant}/test_{name}_mean"]
    std = metrics[f"{variant}/test_{name}_std"]
    return f"{mean:.1f} ± {std:.1f}"


def markdown(rows: list[dict]) -> str:
    header = (
        "| config | data | model | setting | loss | runs | W-F1 base | W-F1 ReNode | ΔW-F1 "
        "| ReNode wins | M-F1 base | M-F1 ReNode | ΔM-F1 | Totoro | wall s |"
    )
    lines = [header, "|" + " --- |" * 15]
    for row in rows:
        m = row["metrics"]
        lines.append(
            "| "
            + " | ".join(
                [
                    *row["key"],
                    f"{m['runs_per_variant']:.0f}",
                    cell(m, "base", "weighted_f1"),
                    cell(m, "renode", "weighted_f1"),
                    f"{m['delta/test_weighted_f1']:+.1f}",
                    row["wins"],
                    cell(m, "base", "macro_f1"),
                    cell(m, "renode", "macro_f1"),
                    f"{m['delta/test_macro_f1']:+.1f}",
                    f"{m['totoro/mean']:.2e}",
                    f"{row['wall_s']:.0f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path("runs/renode"))
    args = parser.parse_args()
    print(markdown(load_rows(args.root)))


if __name__ == "__main__":
    main()
