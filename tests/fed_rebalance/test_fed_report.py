"""The fed_rebalance report: mean ± std per (config, method) over seeds, a row per cost-option
variant, and the per-round curves of a compared run."""

import json

from papers.fed_rebalance import report


def _run(root, name, seed, metrics, config=None, rounds=()):
    folder = root / f"{name}_{seed}_{len(list(root.iterdir()))}"
    folder.mkdir()
    cfg = {"paper": "fed_rebalance", "name": name, "seed": seed, **(config or {})}
    (folder / "results.json").write_text(json.dumps(
        {"status": "finished", "config": cfg, "metrics": metrics, "wall_time_s": 120.0}))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rounds))


def _accs(prefix, overall, tail):
    return {f"{prefix}test/all_acc": overall, f"{prefix}test/tail_acc": tail,
            f"{prefix}test/head_acc": 0.5, f"{prefix}test/medium_acc": 0.4}


def test_table_rows_per_config_method_and_variant(tmp_path, capsys):
    _run(tmp_path, "fedavg", 0, _accs("", 0.30, 0.0))
    _run(tmp_path, "fedavg", 1, _accs("", 0.40, 0.2))
    _run(tmp_path, "demo", 0, {**_accs("redgrape/", 0.5, 0.3), **_accs("fedavg/", 0.4, 0.1)},
         rounds=[{"step": 5, **_accs("redgrape/", 0.2, 0.0), **_accs("fedavg/", 0.1, 0.0)},
                 {"step": 10, **_accs("redgrape/", 0.5, 0.3), **_accs("fedavg/", 0.4, 0.1)}])
    _run(tmp_path, "demo", 0, {**_accs("redgrape/", 0.45, 0.2), **_accs("fedavg/", 0.4, 0.1)},
         config={"task": {"method": {"prototypes_from": "local_pass"}}})
    assert report.main([str(tmp_path), "--figures", str(tmp_path / "fig")]) == 0
    out = capsys.readouterr().out
    assert ("| fedavg | fedavg | 50.0 ± 0.0 | 40.0 ± 0.0 | 10.0 ± 14.1 | 35.0 ± 7.1 | 2 | "
            "2.0 ± 0.0 |") in out
    assert "| demo | redgrape | 50.0 | 40.0 | 30.0 | 50.0 | 1 | 2.0 |" in out
    assert "| demo | redgrape (prototypes_from=local_pass) | 50.0 | 40.0 | 20.0 | 45.0 |" in out
    assert (tmp_path / "fig" / "demo_rounds.png").exists()
    run = next(r for r in report.load_local([tmp_path]) if r.name == "demo"
               and not report.variant(r))
    assert report.round_curves(run)["redgrape"] == ([5, 10], [20.0, 50.0], [0.0, 30.0])
