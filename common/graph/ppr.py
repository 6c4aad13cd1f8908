"""Personalized PageRank on the shared Â (ReNode, Chen et al. 2021, Sec. 3.1).

Π = α (I - (1 - α) Â)^{-1} with Â = D^{-1/2} (A + I) D^{-1/2} from
:func:`common.graph.adjacency.normalized_adjacency` and teleport probability α (ReNode uses
0.15; its official ``pagerank_prob = 0.85`` is the continue probability 1 - α).

Row l of Π is the influence of node l on every node. Totoro needs only the rows of labelled
nodes, so besides the dense inverse (the official method, kept as the reference) this module
solves for those rows alone by power iteration, X ← α E + (1 - α) Âᵀ X, on the sparse matrix:
O(|E| · |L| · iterations) time and O(N · chunk) memory instead of O(N³) time and O(N²) memory.

Direction: the shared Â follows PyG's flow (row i aggregates the sources of edges j -> i, D is
the in-degree). ReNode's graphs (Planetoid, Amazon, Reddit, the planted partitions) are
undirected, where Â is symmetric and Âᵀ = Â entry for entry; :func:`ppr_rows` still builds the
exact transpose, so on a directed graph the rows are those of the dense Π of the same Â.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor

from common.graph.adjacency import normalized_adjacency

DEFAULT_ALPHA = 0.15
METHODS = ("power", "dense")


def transposed_adjacency(edge_index: Tensor, num_nodes: int,
                         dtype: torch.dtype = torch.float32) -> Tensor:
    """Âᵀ as a sparse CSR matrix, the operator of the row-wise PPR iteration (Sec. 3.1)."""
    adj = normalized_adjacency(edge_index, num_nodes, dtype, layout="csr")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return adj.t().to_sparse_csr()


def dense_ppr(
    edge_index: Tensor,
    num_nodes: int,
    alpha: float = DEFAULT_ALPHA,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """The full N x N matrix Π = α (I - (1 - α) Â)^{-1} by a dense inverse (ReNode Sec. 3.1).

    This is the official method and the reference for :func:`ppr_rows`; it needs O(N²) memory.
    """
    adj = normalized_adjacency(edge_index, num_nodes, dtype, layout="csr").to_dense()
    eye = torch.eye(num_nodes, dtype=dtype)
    return alpha * torch.linalg.inv(eye - (1.0 - alpha) * adj)


def ppr_rows(
    edge_index: Tensor,
    num_nodes: int,
    nodes: Tensor,
    alpha: float = DEFAULT_ALPHA,
    tol: float = 1e-6,
    max_iter: int = 1000,
    chunk_size: int = 1024,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Rows Π[nodes, :] of the PPR matrix by power iteration on the sparse Âᵀ (Sec. 3.1).

    Row l of Π solves xᵀ = α e_lᵀ + (1 - α) xᵀ Â, i.e. x = α e_l + (1 - α) Âᵀ x, a contraction
    with rate 1 - α (the spectral radius of Â is 1). Iteration stops when every column's update
    is below ``tol`` in the L1 norm (rows of Π sum to about 1, so the criterion does not loosen
    with N the way a max-norm one does, whose per-entry error adds up over the N terms of each
    Totoro sum), or after ``max_iter`` steps. Columns are processed in chunks of ``chunk_size``
    nodes to bound memory at N x chunk_size; the iteration runs on ``device`` and the result is
    returned on the CPU.
    """
    adj_t = transposed_adjacency(edge_index.cpu(), num_nodes, dtype).to(device)
    nodes = nodes.long()
    out = torch.empty(len(nodes), num_nodes, dtype=dtype)
    for start in range(0, len(nodes), chunk_size):
        part = nodes[start : start + chunk_size]
        teleport = torch.zeros(num_nodes, len(part), dtype=dtype, device=device)
        teleport[part.to(device), torch.arange(len(part), device=device)] = alpha
        x = teleport.clone()
        for _ in range(max_iter):
            x_next = torch.addmm(teleport, adj_t, x, beta=1.0, alpha=1.0 - alpha)
            delta = (x_next - x).abs().sum(0).max().item()
            x = x_next
            if delta < tol:
                break
        out[start : start + len(part)] = x.T.cpu()
    return out


def graph_hash(edge_index: Tensor, num_nodes: int) -> str:
    """A short content hash of a graph, used as part of the PPR cache key."""
    digest = hashlib.sha1(str(num_nodes).encode())
    digest.update(edge_index.cpu().contiguous().long().numpy().tobytes())
    return digest.hexdigest()[:16]


def cached_ppr_rows(
    edge_index: Tensor,
    num_nodes: int,
    nodes: Tensor,
    alpha: float = DEFAULT_ALPHA,
    method: str = "power",
    cache_dir: str | Path | None = None,
    dataset: str = "graph",
    tol: float = 1e-6,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Π[nodes, :] by ``method`` ("power" or "dense"), cached as ``<cache_dir>/<key>.pt``.

    The dense Π is cached once per (dataset, graph hash, α); power-iteration rows are cached per
    (dataset, graph hash, α, tol, node set), since they depend on the node set.
    ``cache_dir=None`` disables caching; power iteration runs on ``device``.
    """
    nodes = nodes.long()
    key = f"{dataset}_{graph_hash(edge_index, num_nodes)}_a{alpha:g}"
    if method == "power":
        nodes_digest = hashlib.sha1(nodes.cpu().numpy().tobytes()).hexdigest()[:12]
        key = f"{key}_power_tol{tol:g}_{nodes_digest}"
    elif method == "dense":
        key = f"{key}_dense"
    else:
        raise ValueError(f"unknown PPR method {method!r}: use one of {METHODS}")
    path = Path(cache_dir) / f"{key}.pt" if cache_dir is not None else None
    if path is not None and path.exists():
        stored = torch.load(path, weights_only=True)
        return stored[nodes] if method == "dense" else stored
    if method == "dense":
        stored = dense_ppr(edge_index, num_nodes, alpha)
        result = stored[nodes]
    else:
        stored = result = ppr_rows(edge_index, num_nodes, nodes, alpha, tol=tol, device=device)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(stored, tmp)
        tmp.replace(path)
    return result
