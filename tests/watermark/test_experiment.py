"""The pipeline on tiny random models (experiment=watermark/smoke) with a proxy of another
tokenizer, and config errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import compose

from common.params import ConfigError


def test_smoke_with_a_proxy_of_another_tokenizer(run_experiment):
    results = run_experiment("watermark/smoke", "task.proxy.model=tiny-gpt2",
                             "task.analyses=[human]", "task.methods=[balance]")
    metrics = results["metrics"]
    for key in ("balance/delta1.5/success", "balance/delta1.5/bit_acc", "balance/delta1.5/ppl",
                "human/balance/human_confidence", "human/kgw/z", "plain/ppl",
                "glance/balance_success", "balance/delta1.5/time/generation_ratio"):
        assert key in metrics, key
    assert "balance/delta3/success" not in metrics      # no delta sweep without tradeoff
    assert (Path(results["run_dir"]) / "generations.json").exists()
    assert (Path(results["run_dir"]) / "tradeoff.png").exists()


@pytest.mark.parametrize(("override", "key"), [
    ("task.methods=[balanced]", "task.methods[0]"),
    ("task.code.partitions=0", "task.code.partitions"),
    ("task.code.bits=30", "task.code.bits"),
    ("task.kgw.gamma=1.5", "task.kgw.gamma"),
    ("task.attacks.copy_paste=[1.0]", "task.attacks.copy_paste[0]"),
    ("task.generation.new_tokens=5", "task.generation.new_tokens"),
    ("task.proxy.context=prompt", "task.proxy.context"),
])
def test_bad_values_name_their_key(override, key):
    from common.run import prepare_task

    with pytest.raises(ConfigError) as err:
        prepare_task(compose("watermark/smoke", override))
    assert key in str(err.value)
