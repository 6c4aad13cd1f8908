"""make demo's glance table: one row per declared claim, ours scaled, the paper's number beside."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import glance  # noqa: E402


def write_run(folder: Path, paper: str, metrics: dict, items: list, seconds: float) -> None:
    folder.mkdir(parents=True)
    config = {"paper": paper, "name": "demo", "glance": items}
    (folder / "results.json").write_text(json.dumps(
        {"status": "finished", "config": config, "metrics": metrics, "wall_time_s": seconds}))


def test_glance_rows(tmp_path, capsys):
    write_run(tmp_path / "a", "renode", {"delta": 0.007, "base": 0.796},
              [{"claim": "base W-F1", "metric": "base", "paper": 79.0, "scale": 100},
               {"claim": "delta", "metric": "delta", "paper": None, "scale": 100}], 26.4)
    write_run(tmp_path / "b", "madgap", {"r": 0.84}, [{"claim": "r", "metric": "r",
                                                      "paper": 0.9}], 19.0)
    assert glance.main([str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("accuracies and F1 in percent")
    assert lines[4:] == ["| madgap | r | 0.90 | 0.84 | 19 |",
                         "| renode | base W-F1 | 79.00 | 79.60 | 26 |",
                         "| renode | delta | - | 0.70 |  |"]
