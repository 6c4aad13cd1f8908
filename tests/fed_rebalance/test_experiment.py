"""The typed task: validation that names the key, method comparison on one federation, and the
Flower deployment's reading of a resolved config."""

import json
from pathlib import Path

import pytest
from conftest import compose
from omegaconf import OmegaConf

from common.params import ConfigError, build_params
from papers.fed_rebalance.settings import FedTask

FEDAVG = {"_target_": "papers.fed_rebalance.baselines.FedAvg"}
PINS = Path(__file__).resolve().parent.parent / "pins"


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"method": FEDAVG, "engine": "flwr"}, "task.engine"),
        ({"method": FEDAVG, "compare": ["redgrap"]}, "task.compare"),
        ({"method": FEDAVG, "compare": ["fedavg"]}, "task.compare"),
        ({"method": {"lam": 0.1}}, "task.method._target_"),
        ({"method": FEDAVG, "fed": {"num_clients": 4, "per_round": 5}}, "task.fed.per_round"),
        ({"method": FEDAVG, "fed": {"rounds": 0}}, "task.fed.rounds"),
        ({"method": FEDAVG, "flower": {"backend": "grpc"}}, "task.flower.backend"),
        ({"method": FEDAVG, "local": {"batchsize": 8}}, "task.local.batchsize"),
    ],
)
def test_bad_task_values_name_their_key(values, key):
    with pytest.raises(ConfigError) as err:
        build_params(FedTask, values)
    assert err.value.key == key


def test_compared_methods_share_data_init_and_sampling(run_experiment, tmp_path):
    """RedGrape compared with FedAvg gives each exactly its result alone (the pinned smoke run
    for RedGrape, a smoke run with the FedAvg method for FedAvg)."""
    both = run_experiment("fed_rebalance/smoke", "task.compare=[fedavg]")["metrics"]
    alone = run_experiment(
        "fed_rebalance/smoke", "~task.method.lam", "~task.method.per_class",
        f"task.method._target_={FEDAVG['_target_']}", run_dir=tmp_path / "fedavg",
    )["metrics"]
    pinned = json.loads((PINS / "fed_rebalance__smoke.json").read_text())["metrics"]
    for key in ("test/all_acc", "test/head_acc", "test/medium_acc", "test/tail_acc"):
        assert both[f"redgrape/{key}"] == pinned[key]
        assert both[f"fedavg/{key}"] == alone[key]
    assert both["data/train_size"] == alone["data/train_size"]


def test_deployment_reads_task_and_groups_from_the_resolved_yaml():
    from papers.fed_rebalance.engine.flower import _setup_from_yaml

    cfg = compose("fed_rebalance/smoke", "optim.lr=0.05")
    task, setup, seed = _setup_from_yaml(OmegaConf.to_yaml(cfg, resolve=True))
    assert seed == cfg.seed
    assert task.fed.num_clients == len(setup.clients) == 3
    assert setup.local.optim["lr"] == 0.05
    assert setup.local.trainer.max_epochs == 1 and setup.local.trainer.grad_clip == 1.0
