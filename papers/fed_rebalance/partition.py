"""Long-tailed subsampling and per-class Dirichlet split over clients (Sec. 5.1 of both papers)."""

from __future__ import annotations

import numpy as np
import torch


def long_tail_counts(n_max: int, num_classes: int, imbalance_factor: float) -> list[int]:
    """n_c = int(n_max * (1/IF)^(c/(C-1))) for c = 0..C-1 (exponential profile, CReFF Sec. 5.1)."""
    return [
        int(n_max * (1.0 / imbalance_factor) ** (c / (num_classes - 1.0)))
        for c in range(num_classes)
    ]


def long_tail_indices(
    labels: torch.Tensor, counts: list[int], rng: np.random.Generator
) -> np.ndarray:
    """Indices keeping ``counts[c]`` randomly chosen samples of each class c (sorted)."""
    y = labels.numpy()
    kept = []
    for c, n_c in enumerate(counts):
        pool = np.flatnonzero(y == c)
        if n_c > len(pool):
            raise ValueError(f"class {c} has {len(pool)} samples, {n_c} requested")
        kept.append(rng.permutation(pool)[:n_c])
    return np.sort(np.concatenate(kept))


def dirichlet_split(
    labels: np.ndarray,
    num_clients: int,
    alpha: float,
    rng: np.random.Generator,
    min_size: int = 10,
) -> list[np.ndarray]:
    """Per-class Dirichlet(alpha) split of sample positions over clients.

    For each class, proportions p ~ Dir(alpha * 1_K) are drawn, clients already holding more than
    N/K samples get p = 0 (the balancing step of the FedML ``hetero`` partition used by RedGrape's
    code), and the class's shuffled samples are cut at the cumulative proportions. The draw is
    repeated until every client holds at least ``min_size`` samples. Every position appears in
    exactly one client; the result is a list of position arrays into ``labels``.
    """
    n = len(labels)
    classes = np.unique(labels)
    smallest = -1
    while smallest < min_size:
        parts: list[list[int]] = [[] for _ in range(num_clients)]
        for c in classes:
            idx_c = rng.permutation(np.flatnonzero(labels == c))
            p = rng.dirichlet(np.full(num_clients, alpha))
            p = p * np.array([len(part) < n / num_clients for part in parts])
            p = p / p.sum()
            cuts = (np.cumsum(p) * len(idx_c)).astype(int)[:-1]
            for part, chunk in zip(parts, np.split(idx_c, cuts), strict=True):
                part.extend(chunk.tolist())
        smallest = min(len(part) for part in parts)
    return [rng.permutation(np.asarray(part, dtype=np.int64)) for part in parts]
