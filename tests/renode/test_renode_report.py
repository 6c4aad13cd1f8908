"""The ReNode results table counts paired wins from runs.jsonl."""

import json

from papers.renode.report import paired_wins


def test_paired_wins_counts_pairs(tmp_path):
    runs = [
        {"variant": "base", "split_seed": 0, "init_seed": 0, "test/weighted_f1": 0.5},
        {"variant": "renode", "split_seed": 0, "init_seed": 0, "test/weighted_f1": 0.6},
        {"variant": "base", "split_seed": 1, "init_seed": 0, "test/weighted_f1": 0.7},
        {"variant": "renode", "split_seed": 1, "init_seed": 0, "test/weighted_f1": 0.6},
        {"variant": "base", "split_seed": 2, "init_seed": 0, "test/weighted_f1": 0.7},
    ]
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in runs))
    assert paired_wins(path) == "1/2"
    assert paired_wins(tmp_path / "missing.jsonl") == "-"
