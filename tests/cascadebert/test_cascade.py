"""Exit rule and speed-up arithmetic of the cascade on hand-made probabilities."""

import pytest
import torch

from papers.cascadebert.cascade import cascade_probs, exit_model, run_costs, speedup


def test_first_model_above_tau_answers_and_the_last_takes_the_rest():
    conf = torch.tensor([[0.95, 0.80, 0.50, 0.81],
                         [0.60, 0.99, 0.55, 0.70],
                         [0.51, 0.52, 0.53, 0.54]])
    assert exit_model(conf, 0.8).tolist() == [0, 1, 2, 0]


def test_threshold_is_strict():
    conf = torch.tensor([[0.8, 0.8000001], [0.9, 0.9]])
    assert exit_model(conf, 0.8).tolist() == [1, 0]


def test_last_model_answers_even_when_unsure():
    conf = torch.tensor([[0.5], [0.5]])
    assert exit_model(conf, 0.99).tolist() == [1]


def test_cascade_takes_the_exit_models_distribution():
    small = torch.tensor([[0.9, 0.1], [0.6, 0.4]])
    large = torch.tensor([[0.2, 0.8], [0.3, 0.7]])
    probs, exits = cascade_probs([small, large], 0.7)
    assert exits.tolist() == [0, 1]
    assert torch.equal(probs, torch.tensor([[0.9, 0.1], [0.3, 0.7]]))


def test_layer_speedup_of_the_official_mrpc_run():
    """MRPC tau=0.6 (saved_models): 377 of 408 exit at the 2-layer model, 31 go on: 2 / 14
    layers each, speed-up 12 / mean = 4.12."""
    exits = torch.tensor([0] * 377 + [1] * 31)
    costs = run_costs(torch.tensor([2.0, 12.0]), exits)
    assert costs.unique().tolist() == [2.0, 14.0]
    assert speedup(12.0, costs) == pytest.approx(4.1212, abs=1e-4)


def test_per_example_costs_and_reference():
    costs = torch.tensor([[1.0, 2.0], [10.0, 20.0]])
    spent = run_costs(costs, torch.tensor([1, 0]))
    assert spent.tolist() == [11.0, 2.0]
    assert speedup(torch.tensor([10.0, 20.0]), spent) == pytest.approx(30 / 13)
