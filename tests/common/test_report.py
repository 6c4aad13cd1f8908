"""compare: grouping by the overrides that differ, mean ± std over seeds."""

from __future__ import annotations

import json

from common.report import group_runs, load_local, markdown_long, markdown_wide


def write_run(folder, seed, model, acc):
    folder.mkdir(parents=True)
    config = {"paper": "p", "name": "e", "seed": seed, "model": {"name": model},
              "paths": {"runs": str(folder)}}
    (folder / "results.json").write_text(json.dumps(
        {"status": "finished", "config": config, "metrics": {"test/acc": acc}}))


def test_groups_by_differing_override(tmp_path):
    write_run(tmp_path / "a", 0, "gcn", 0.80)
    write_run(tmp_path / "b", 1, "gcn", 0.82)
    write_run(tmp_path / "c", 0, "gat", 0.70)
    groups = group_runs(load_local([tmp_path]))
    by_setting = {g.setting: g for g in groups}
    assert set(by_setting) == {"model.name=gcn", "model.name=gat"}
    mean, std = by_setting["model.name=gcn"].stats["test/acc"]
    assert mean == 0.81 and abs(std - 0.0141421356) < 1e-6
    assert by_setting["model.name=gcn"].n == 2
    assert "0.8100 ± 0.0141" in markdown_wide(groups)
    assert "| p | e | model.name=gat | test/acc | 0.7000 | 1 |" in markdown_long(groups)


def test_repeated_seed_keeps_its_newest_run_and_n_counts_seeds(tmp_path):
    import os

    write_run(tmp_path / "a", 0, "gcn", 0.80)
    write_run(tmp_path / "b", 0, "gcn", 0.90)
    os.utime(tmp_path / "a" / "results.json", (1, 1))
    write_run(tmp_path / "c", 1, "gcn", 0.70)
    (group,) = group_runs(load_local([tmp_path]))
    assert group.n == 2 and group.stats["test/acc"][0] == 0.80
    assert "sample std" in markdown_long([group]) and "n distinct seeds" in markdown_wide([group])


def test_report_cli_renders_the_papers_runs_without_smoke(tmp_path, capsys):
    from common.report import report_cli

    write_run(tmp_path / "a", 0, "gcn", 0.8)
    smoke = json.loads((tmp_path / "a" / "results.json").read_text())
    smoke["config"]["name"] = "smoke"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "results.json").write_text(json.dumps(smoke))
    assert report_cli("p", "d", lambda runs: f"{len(runs)} runs", [str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "1 runs"
    assert report_cli("q", "d", lambda runs: "", [str(tmp_path)]) == 1


def test_format_mean_cells():
    from common.report import format_mean

    assert format_mean([]) == "-"
    assert format_mean([float("nan")]) == "-"
    assert format_mean([0.5]) == "0.50"
    assert format_mean([1.0, 3.0, float("nan")]) == "2.00 ± 1.41"


def test_seed_values_groups_and_keeps_each_metrics_newest_run_per_seed():
    from common.report import Run, seed_values

    def run(seed, model, metrics, at):
        return Run("p", "e", {"seed": seed, "model.name": model}, metrics, finished_at=at)

    runs = [run(0, "gcn", {"acc": 0.5, "f1": 0.4}, 1), run(0, "gcn", {"acc": 0.6}, 2),
            run(1, "gcn", {"acc": 0.7}, 3), run(0, "gat", {"acc": 0.9}, 4)]
    values = seed_values(runs, ("model.name",))
    assert values[("gcn",)] == {"acc": [0.6, 0.7], "f1": [0.4]}
    assert values[("gat",)] == {"acc": [0.9]}


def test_figure_gives_one_axis_or_a_row_of_panels(tmp_path):
    from common.report import figure

    with figure(tmp_path / "one.png") as (_, ax):
        ax.plot([0, 1])
    with figure(tmp_path / "row.png", (6, 2), ncols=3) as (_, axes):
        assert len(axes) == 3
        for ax in axes:
            ax.plot([0, 1])
    assert (tmp_path / "one.png").exists() and (tmp_path / "row.png").exists()
