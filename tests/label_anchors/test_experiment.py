"""The six analyses end to end on the tiny Llama (experiment=label_anchors/smoke), and config
errors that name the key."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import compose

from common.params import ConfigError


def test_smoke_runs_every_analysis(run_experiment):
    results = run_experiment("label_anchors/smoke")
    metrics = results["metrics"]
    for key in ("saliency/crossover_layer", "isolation/label_first1/label_loyalty",
                "isolation/random_last2/word_loyalty", "deep/n", "reweighting/acc",
                "reweighting/icl_acc", "reweighting/icl_many_acc",
                "compression/hidden_anchor/label_loyalty", "compression/text_anchor/accuracy",
                "compression/hidden_random_top/best_trial", "diagnosis/layer"):
        assert key in metrics, key
    for key, value in metrics.items():
        if "loyalty" in key or key.endswith("acc") or key.endswith("accuracy"):
            assert 0 <= value <= 1, key
    assert metrics["saliency/layer0/S_wp"] >= 0 and not math.isnan(metrics["reweighting/acc"])
    run_dir = Path(results["run_dir"])
    for name in ("saliency_flows.png", "isolation.png", "confusion.png", "compression.json",
                 "demonstrations.json", "reweighting_beta.pt"):
        assert (run_dir / name).exists(), name


@pytest.mark.parametrize(("override", "key"), [
    ("task.analyses=[saliency,anchors]", "task.analyses[1]"),
    ("task.saliency.target=argmax", "task.saliency.target"),
    ("task.compression.methods=[hidden_anchors]", "task.compression.methods[0]"),
    ("task.icl.label_scoring=last", "icl.label_scoring"),
])
def test_bad_values_name_their_key(override, key):
    from common.run import prepare_task

    with pytest.raises(ConfigError) as err:
        prepare_task(compose("label_anchors/smoke", override))
    assert key in str(err.value)
