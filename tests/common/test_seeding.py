"""Seeds as a contract: derived streams are stable and distinct; scoped seeding restores."""

from __future__ import annotations

import random

import numpy as np
import torch

from common.seeding import derive_seed, rng_state, seeded, set_rng_state


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(0, "init") == derive_seed(0, "init", 0)
    seeds = {derive_seed(s, stream, i) for s in range(3) for stream in ("init", "split", "shuffle")
             for i in range(3)}
    assert len(seeds) == 27
    assert 0 <= derive_seed(5, "client", 2) < 2**63


def test_seeded_block_equals_manual_seed_and_restores_the_outer_stream():
    torch.manual_seed(1)
    expected_outer = torch.rand(3)
    torch.manual_seed(1)
    with seeded(42):
        inner = torch.rand(2)
        py, npy = random.random(), np.random.rand()
    assert torch.equal(torch.rand(3), expected_outer)
    torch.manual_seed(42)
    random.seed(42)
    np.random.seed(42)
    assert torch.equal(inner, torch.rand(2))
    assert (py, npy) == (random.random(), np.random.rand())


def test_rng_state_round_trip_loads_with_weights_only(tmp_path):
    state = rng_state()
    torch.save(state, tmp_path / "rng.pt")
    draws = (random.random(), np.random.rand(), torch.rand(1))
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert draws[:2] == (random.random(), np.random.rand())
    assert torch.equal(draws[2], torch.rand(1))
