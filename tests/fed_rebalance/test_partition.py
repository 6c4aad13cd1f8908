"""Long-tail counts and the per-class Dirichlet split."""

import numpy as np
import torch

from papers.fed_rebalance.partition import dirichlet_split, long_tail_counts, long_tail_indices


def test_long_tail_counts_cifar10_if100():
    # n_c = int(5000 * 0.01^(c/9)), hand-checked ends and a middle value
    counts = long_tail_counts(5000, 10, 100)
    assert counts == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert sum(counts) == 12406


def test_long_tail_counts_if10_and_if50():
    assert long_tail_counts(5000, 10, 10)[-1] == 500
    assert long_tail_counts(5000, 10, 50)[-1] == 100
    assert long_tail_counts(500, 100, 100)[0] == 500


def test_long_tail_indices_exact_counts():
    labels = torch.arange(10).repeat_interleave(100)
    counts = long_tail_counts(100, 10, 10)
    idx = long_tail_indices(labels, counts, np.random.default_rng(0))
    assert len(set(idx.tolist())) == len(idx)
    assert torch.bincount(labels[idx], minlength=10).tolist() == counts


def test_dirichlet_split_assigns_every_sample_once_and_is_reproducible():
    labels = np.repeat(np.arange(10), long_tail_counts(300, 10, 100))
    parts = dirichlet_split(labels, 20, 0.5, np.random.default_rng(3), min_size=5)
    joined = np.concatenate(parts)
    assert len(parts) == 20
    assert sorted(joined.tolist()) == list(range(len(labels)))
    assert min(len(p) for p in parts) >= 5
    again = dirichlet_split(labels, 20, 0.5, np.random.default_rng(3), min_size=5)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    other = dirichlet_split(labels, 20, 0.5, np.random.default_rng(4), min_size=5)
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other, strict=True))


def test_dirichlet_small_alpha_is_more_skewed():
    labels = np.repeat(np.arange(10), 200)

    def mean_classes(alpha):
        parts = dirichlet_split(labels, 10, alpha, np.random.default_rng(0), min_size=1)
        return np.mean([len(np.unique(labels[p])) for p in parts])

    assert mean_classes(0.1) < mean_classes(100.0)
