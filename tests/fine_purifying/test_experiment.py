"""The pipeline on a tiny random BERT (experiment=fine_purifying/smoke), ONION's filter, and
config errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import compose

from common.params import ConfigError


def test_smoke_runs_every_defence_and_both_curves(run_experiment):
    results = run_experiment("fine_purifying/smoke", "task.attack.trigger.attack=badsent",
                             "task.defence.curvature=hutchinson", "task.defence.scope=per_tensor")
    metrics = results["metrics"]
    for d in ("none", "ft", "reinit", "fine_pruning", "fine_mixing", "fine_purifying", "drift",
              "onion"):
        assert f"{d}/acc" in metrics and f"{d}/asr" in metrics, d
    for key in ("fine_purifying/rho0.5/asr", "ft/clean8/acc", "glance/fine_purifying_asr"):
        assert key in metrics, key
    assert (Path(results["run_dir"]) / "rho.png").exists()
    assert (Path(results["run_dir"]) / "clean_size.png").exists()


def test_onion_removes_the_words_above_the_threshold(monkeypatch):
    import torch

    from papers.fine_purifying import onion

    monkeypatch.setattr(onion, "suspicion", lambda m, t, text: torch.tensor([0.5, 3.0, -1.0]))
    assert onion.filter_text(None, None, "great cf movie", threshold=1.0) == "great movie"
    assert onion.filter_text(None, None, "great cf movie", threshold=5.0) == "great cf movie"


@pytest.mark.parametrize(("override", "key"), [
    ("task.defences=[fine_purify]", "task.defences[0]"),
    ("task.defence.rho=1.5", "task.defence.rho"),
    ("task.rhos=[0.2,2]", "task.rhos[1]"),
    ("task.attack.poison_rate=0", "task.attack.poison_rate"),
    ("task.defence.scope=layer", "task.defence.scope"),
    ("task.defence.curvature=gauss", "task.defence.curvature"),
    ("task.attack.trigger.attack=syntax", "task.attack.trigger.attack"),
])
def test_bad_values_name_their_key(override, key):
    from common.run import prepare_task

    with pytest.raises(ConfigError) as err:
        prepare_task(compose("fine_purifying/smoke", override))
    assert key in str(err.value)
