"""The shared GNN zoo: GCN, GAT, GraphSAGE, ChebNet, SGC and APPNP of any depth.

One class, :class:`GNN`, so that depth, width and dropout mean the same thing across
architectures and every model can hand back the representation after each layer (MADGap measures
smoothness per layer; ReNode reuses the zoo). ``forward(x, edge_index, return_hidden=True)``
returns ``(logits, [h_1, ..., h_L])`` with ``h_L`` the logits.

Depth per architecture: GCN / GAT / SAGE / Cheb: ``num_layers`` graph convolutions.
SGC (Wu et al. 2019): ``num_layers`` propagation steps K of one linear map, computed as
Â^k (XW) (equal to (Â^K X)W by linearity, cheaper with few classes), so h_k = Â^k X W.
APPNP (Klicpera et al. 2019): an MLP of ``num_layers`` layers, then ``K`` personalised-PageRank
propagation steps with teleport ``alpha``; the hidden list is the MLP layers' outputs with the last
one replaced by the propagated logits.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import APPNP, ChebConv, GATConv, GCNConv, SAGEConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

ARCHITECTURES = ("gcn", "gat", "sage", "cheb", "sgc", "appnp")
SPARSE_INPUT_DENSITY = 0.1


class GNN(nn.Module):
    """A ``num_layers``-deep GNN of architecture ``conv`` mapping ``in_dim`` features to
    ``out_dim`` logits, with ``hidden`` units (GAT: ``heads`` x ``hidden // heads``)."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        conv: str = "gcn",
        hidden: int = 64,
        num_layers: int = 2,
        dropout: float = 0.5,
        heads: int = 8,
        attn_dropout: float | None = None,
        cheb_k: int = 2,
        K: int = 10,
        alpha: float = 0.1,
        cached: bool = True,
        name: str | None = None,
    ):
        super().__init__()
        if conv not in ARCHITECTURES:
            raise ValueError(f"model.conv must be one of {ARCHITECTURES}, got {conv!r}")
        if num_layers < 1:
            raise ValueError(f"model.num_layers must be >= 1, got {num_layers}")
        if conv == "gat" and hidden % heads:
            raise ValueError(f"GAT needs hidden ({hidden}) divisible by heads ({heads})")
        self.conv, self.num_layers, self.dropout, self.cached = conv, num_layers, dropout, cached
        self.K = K
        self._graph_key: tuple | None = None
        self._input_nonzero: tuple[Tensor, Tensor] | None = None
        self._norm_cache: tuple[Tensor, Tensor] | None = None
        dims = [in_dim] + [hidden] * (num_layers - 1) + [out_dim]
        if conv == "sgc":
            self.layers = nn.ModuleList([nn.Linear(in_dim, out_dim, bias=False)])
            self.bias = nn.Parameter(torch.zeros(out_dim))
        elif conv == "appnp":
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(dims))
            self.propagate = APPNP(K=K, alpha=alpha, cached=cached)
        else:
            self.layers = nn.ModuleList(
                self._make_conv(a, b, last=i == num_layers - 1, heads=heads,
                                attn_dropout=dropout if attn_dropout is None else attn_dropout,
                                cheb_k=cheb_k)
                for i, (a, b) in enumerate(pairwise(dims))
            )

    def _make_conv(self, a: int, b: int, *, last: bool, heads: int, attn_dropout: float,
                   cheb_k: int) -> nn.Module:
        if self.conv == "gcn":
            return GCNConv(a, b, cached=self.cached)
        if self.conv == "gat":
            if last:
                return GATConv(a, b, heads=1, concat=False, dropout=attn_dropout)
            return GATConv(a, b // heads, heads=heads, concat=True, dropout=attn_dropout)
        if self.conv == "sage":
            return SAGEConv(a, b, aggr="mean")
        return ChebConv(a, b, K=cheb_k)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        if self.conv == "sgc":
            nn.init.zeros_(self.bias)
        self._forget_graph()

    def _forget_graph(self) -> None:
        """Drop cached normalisations (GCNConv / APPNP cache the first graph they see)."""
        self._norm_cache = None
        for module in self.modules():
            for attr in ("_cached_edge_index", "_cached_adj_t"):
                if hasattr(module, attr):
                    setattr(module, attr, None)

    def _check_graph(self, x: Tensor, edge_index: Tensor) -> None:
        key = (edge_index.data_ptr(), tuple(edge_index.shape), x.data_ptr(), tuple(x.shape))
        if key != self._graph_key:
            self._forget_graph()
            self._graph_key = key
            nonzero = x.detach().nonzero(as_tuple=True)
            sparse = nonzero[0].numel() < SPARSE_INPUT_DENSITY * x.numel()
            self._input_nonzero = nonzero if sparse else None

    def _input_dropout(self, x: Tensor) -> Tensor:
        """Dropout on the input features. For sparse bag-of-words inputs (Cora: 1.3% non-zero)
        only the non-zero entries are masked, which has the distribution of ``F.dropout`` (a
        dropped zero is still zero) at a fraction of the cost of drawing N x F random numbers."""
        if not self.training or self.dropout == 0 or self._input_nonzero is None:
            return F.dropout(x, self.dropout, self.training)
        rows, cols = self._input_nonzero
        keep = torch.rand(rows.numel(), device=x.device) >= self.dropout
        out = torch.zeros_like(x)
        out[rows, cols] = x[rows, cols] * keep / (1 - self.dropout)
        return out

    def _sgc_norm(self, edge_index: Tensor, n: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        if self._norm_cache is None or not self.cached:
            ei, w = gcn_norm(edge_index, None, n, add_self_loops=True, dtype=dtype)
            self._norm_cache = (ei, w)
        return self._norm_cache

    def forward(
        self, x: Tensor, edge_index: Tensor, return_hidden: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        self._check_graph(x, edge_index)
        hidden: list[Tensor] = []
        if self.conv == "sgc":
            ei, w = self._sgc_norm(edge_index, x.size(0), x.dtype)
            h = self.layers[0](self._input_dropout(x))
            for step in range(self.num_layers):
                h = _spmm(ei, w, h, x.size(0))
                hidden.append(h + self.bias if step == self.num_layers - 1 else h)
            out = hidden[-1]
        else:
            h = x
            for i, layer in enumerate(self.layers):
                h = self._input_dropout(h) if i == 0 else F.dropout(h, self.dropout, self.training)
                h = layer(h) if self.conv == "appnp" else layer(h, edge_index)
                if i < len(self.layers) - 1:
                    h = F.elu(h) if self.conv == "gat" else F.relu(h)
                hidden.append(h)
            if self.conv == "appnp":
                hidden[-1] = self.propagate(hidden[-1], edge_index)
            out = hidden[-1]
        return (out, hidden) if return_hidden else out


def _spmm(edge_index: Tensor, weight: Tensor, h: Tensor, n: int) -> Tensor:
    """out[i] = sum_j w_ij h[j] over edges j -> i (PyG's source-to-target convention)."""
    src, dst = edge_index
    out = torch.zeros(n, h.size(1), dtype=h.dtype, device=h.device)
    return out.index_add_(0, dst, h[src] * weight.unsqueeze(1))
