"""The graph matrices every graph paper builds on, once: the GCN-normalised Â and the plain
symmetric 0/1 adjacency, both sparse."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor


def normalized_adjacency(
    edge_index: Tensor,
    num_nodes: int,
    dtype: torch.dtype = torch.float32,
    *,
    layout: str = "coo",
) -> Tensor:
    """Â = D^-1/2 (A + I) D^-1/2 (Kipf & Welling 2017, Eq. 2; ReNode Sec. 3.1's PPR base) as a
    coalesced sparse matrix.

    Row i aggregates the sources of edges j -> i (PyG's source-to-target flow): Â[i, j] ≠ 0 for
    each column (j, i) of ``edge_index`` and for i = j; duplicate edges and existing self loops
    count once (A is 0/1), D is the row sum of A + I. For an undirected graph Â is symmetric.
    ``layout`` is ``coo`` or ``csr``.
    """
    loops = torch.arange(num_nodes, dtype=edge_index.dtype, device=edge_index.device)
    rows = torch.cat([edge_index[1], loops])
    cols = torch.cat([edge_index[0], loops])
    key = torch.unique(rows * num_nodes + cols)
    rows, cols = key // num_nodes, key % num_nodes
    inv_sqrt = torch.bincount(rows, minlength=num_nodes).to(dtype).pow(-0.5)
    values = inv_sqrt[rows] * inv_sqrt[cols]
    shape = (num_nodes, num_nodes)
    adj = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, shape,
                                  check_invariants=False).coalesce()
    if layout == "coo":
        return adj
    if layout == "csr":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            return adj.to_sparse_csr()
    raise ValueError(f"layout must be 'coo' or 'csr', got {layout!r}")


def undirected_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The symmetric 0/1 adjacency (no self loops) as a coalesced sparse float32 matrix."""
    src, dst = edge_index
    keep = src != dst
    pairs = torch.stack([torch.cat([src[keep], dst[keep]]), torch.cat([dst[keep], src[keep]])])
    pairs = torch.unique(pairs, dim=1)
    values = torch.ones(pairs.shape[1], device=edge_index.device)
    shape = (num_nodes, num_nodes)
    return torch.sparse_coo_tensor(pairs, values, shape, check_invariants=True).coalesce()
