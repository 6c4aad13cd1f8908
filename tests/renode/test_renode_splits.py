"""TINL and TINL + QINL label splits (ReNode Sec. 4.1, official split procedure)."""

import random

import torch

from papers.renode.splits import step_quotas, step_split, tinl_split


def toy_labels(n: int = 600, classes: int = 4) -> torch.Tensor:
    return torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(0))


def official_style_split(labels: list[int], quotas: list[int], val_each: int, seed: int):
    order = list(range(len(labels)))
    random.seed(seed)
    random.shuffle(order)
    count, train = [0] * len(quotas), []
    for v in order:
        if count[labels[v]] < quotas[labels[v]]:
            count[labels[v]] += 1
            train.append(v)
    rest = sorted(set(order) - set(train))
    count, val = [0] * len(quotas), []
    for v in rest:
        if count[labels[v]] < val_each:
            count[labels[v]] += 1
            val.append(v)
    return sorted(train), sorted(val)


def test_tinl_split_sizes_disjoint_and_complete():
    labels = toy_labels()
    split = tinl_split(labels, 4, seed=0)
    assert torch.bincount(labels[split.train], minlength=4).tolist() == [20] * 4
    assert torch.bincount(labels[split.val], minlength=4).tolist() == [30] * 4
    everything = torch.cat([split.train, split.val, split.test]).sort().values
    assert torch.equal(everything, torch.arange(len(labels)))


def test_tinl_split_matches_the_official_procedure():
    labels = toy_labels()
    for seed in range(3):
        split = tinl_split(labels, 4, seed=seed)
        train, val = official_style_split(labels.tolist(), [20] * 4, 30, seed)
        assert split.train.tolist() == train and split.val.tolist() == val


def test_splits_differ_by_seed_and_shuffled_val_differs():
    labels = toy_labels()
    assert not torch.equal(tinl_split(labels, 4, 0).train, tinl_split(labels, 4, 1).train)
    shuffled = tinl_split(labels, 4, 0, val_order="shuffled")
    assert not torch.equal(shuffled.val, tinl_split(labels, 4, 0).val)


def test_step_quotas_hand_values():
    assert step_quotas(2708, 7, 0.05, 5.0, [0, 1, 2]) == [35, 35, 35, 7, 7, 7, 7]
    assert step_quotas(1000, 4, 0.1, 1.0, []) == [25, 25, 25, 25]


def test_step_split_follows_quotas():
    labels = toy_labels(2000, 4)
    split = step_split(
        labels, 4, seed=0, labelling_ratio=0.05, imbalance_ratio=4.0, head_classes=[0]
    )
    assert torch.bincount(labels[split.train], minlength=4).tolist() == [56, 14, 14, 14]
