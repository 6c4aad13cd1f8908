"""Fixtures of the label-anchors tests: tiny random GPT-2 / Llama settings on SST-2 and TREC
(eager attention, frozen), built once per session; absent assets skip with their name."""

from __future__ import annotations

import pytest

from common.assets import find_asset_error
from common.text.data import dataset_by_name
from common.text.models import load_by_name
from papers.label_anchors.setting import ICLParams, Setting, build_setting


def make_setting(model: str = "tiny-llama", data: str = "sst2", *, test_size: int = 6,
                 shots: int = 1, label_scoring: str = "first") -> Setting:
    """A frozen tiny model on ``data`` with ``test_size`` test examples, seeds 0 / 1."""
    try:
        lm, tok = load_by_name(model, head="causal_lm", attn_implementation="eager")
        dataset = dataset_by_name(data)
        return build_setting(lm, tok, dataset,
                             ICLParams(test_size=test_size, shots=shots,
                                       label_scoring=label_scoring),
                             demo_seed=0, test_seed=1)
    except Exception as err:  # an absent package or mirror file skips, anything else fails
        missing = find_asset_error(err)
        if missing is None:
            raise
        pytest.skip(str(missing))


@pytest.fixture(scope="session", params=["tiny-gpt2", "tiny-llama"])
def tiny_setting(request) -> Setting:
    """SST-2 on each tiny family (GPT-2 attention and Llama's grouped-query attention)."""
    return make_setting(request.param)


@pytest.fixture(scope="session")
def llama_trec() -> Setting:
    return make_setting("tiny-llama", "trec")


@pytest.fixture(scope="package", autouse=True)
def one_thread():
    """Tiny batch-1 forwards run fastest on one thread (and do not fight other jobs for the
    cores); the previous count is restored for the rest of the session."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
