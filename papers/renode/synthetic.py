"""Synthetic homophilous graphs (a planted-partition / SBM-like model) for the large-graph checks.

ReNode's large-graph setting (Reddit, MAG-Scholar; Chen et al. 2021, Sec. 4.3) only needs PPR
rows of the labelled nodes; these graphs exercise that path at 10k-200k nodes without a download.
"""

from __future__ import annotations

import torch
from torch_geometric.data import Data


def planted_partition_graph(
    num_nodes: int,
    num_classes: int = 10,
    avg_degree: float = 10.0,
    homophily: float = 0.8,
    num_features: int = 32,
    feature_noise: float = 2.0,
    seed: int = 0,
) -> Data:
    """An undirected graph whose edges stay inside a class with probability ``homophily``.

    Each of ``num_nodes * avg_degree / 2`` edges picks a uniform source; its target is a uniform
    node of the same class with probability ``homophily``, else a uniform node. Features are a
    class mean (standard normal) plus Gaussian noise of scale ``feature_noise``.
    """
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_classes, (num_nodes,), generator=gen)
    order = torch.argsort(y, stable=True)
    counts = torch.bincount(y, minlength=num_classes)
    offsets = torch.cumsum(counts, 0) - counts
    num_edges = int(num_nodes * avg_degree / 2)
    src = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    same = torch.rand(num_edges, generator=gen) < homophily
    cls = y[src]
    pick = (torch.rand(num_edges, generator=gen) * counts[cls]).long()
    dst = torch.where(
        same, order[offsets[cls] + pick], torch.randint(0, num_nodes, (num_edges,), generator=gen)
    )
    keep = src != dst
    src, dst = src[keep], dst[keep]
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
    means = torch.randn(num_classes, num_features, generator=gen)
    x = means[y] + feature_noise * torch.randn(num_nodes, num_features, generator=gen)
    return Data(x=x, edge_index=edge_index, y=y, num_nodes=num_nodes)
