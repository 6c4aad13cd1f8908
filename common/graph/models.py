"""The shared GNN zoo: GCN, GAT, GraphSAGE, ChebNet, SGC and APPNP of any depth.

One class, :class:`GNN`, so that depth, width and dropout mean the same thing across
architectures and every model can hand back the representation after each layer (MADGap measures
smoothness per layer; ReNode reuses the zoo). ``forward(x, edge_index, return_hidden=True)``
returns ``(logits, [h_1, ..., h_L])`` with ``h_L`` the logits.

Depth per architecture: GCN / GAT / SAGE / Cheb: ``num_layers`` graph convolutions.
SGC (Wu et al. 2019): ``num_layers`` propagation steps K of one linear map, computed as
Â^k (XW) (equal to (Â^K X)W by linearity, cheaper with few classes), so h_k = Â^k X W.
APPNP (Klicpera et al. 2019, Eq. 3): an MLP of ``num_layers`` layers, then ``K`` steps
Z <- (1 - alpha) Â Z + alpha H; the hidden list is the MLP layers' outputs with the last one
replaced by the propagated logits.

Speed: GCN, SGC and APPNP multiply by a cached sparse Â, and when the input features are sparse
(bag-of-words: 1.3% non-zero on Cora) their first linear map is a sparse product whose dropout
masks only the non-zero entries; ``scripts/bench_graph.py`` measures both against PyG's
``GCNConv``. GAT, SAGE and ChebNet are PyG's layers.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import ChebConv, GATConv, SAGEConv

from common.graph.adjacency import normalized_adjacency

ARCHITECTURES = ("gcn", "gat", "sage", "cheb", "sgc", "appnp")
ACTIVATIONS = {"relu": F.relu, "elu": F.elu}
DECAY_LAYERS = ("all", "first")
LINEAR_FIRST = ("gcn", "sgc", "appnp")
SPARSE_INPUT_DENSITY = 0.1


def linear(h: Tensor, weight: Tensor) -> Tensor:
    """h W^T for a dense or a sparse (COO) h."""
    return torch.sparse.mm(h, weight.t()) if h.is_sparse else h @ weight.t()


class GCNLayer(nn.Module):
    """H' = Â H W + b (Kipf & Welling 2017, Eq. 2) on a precomputed sparse Â; Glorot-initialised
    weight and zero bias, as in the reference implementation."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        nn.init.zeros_(self.bias)

    def forward(self, h: Tensor, adj: Tensor) -> Tensor:
        return torch.sparse.mm(adj, linear(h, self.lin.weight)) + self.bias


class GNN(nn.Module):
    """A ``num_layers``-deep GNN of architecture ``conv`` mapping ``in_dim`` features to
    ``out_dim`` logits, with ``hidden`` units (GAT: ``heads`` x ``hidden // heads``).

    ``dropout`` is applied before every layer, the input included unless ``input_dropout`` is
    false (some reference implementations drop only between layers); ``activation`` defaults to
    ELU for GAT (Velickovic et al. 2018) and ReLU otherwise. ``weight_decay_layers``: which
    layers the optimizer's weight decay applies to (:meth:`param_groups`), ``first`` for the
    GCN recipe of Kipf & Welling (2017, Sec. 5.2: L2 on the first layer only)."""

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
        input_dropout: bool = True,
        activation: str | None = None,
        weight_decay_layers: str = "all",
        name: str | None = None,
    ):
        super().__init__()
        if conv not in ARCHITECTURES:
            raise ValueError(f"model.conv must be one of {ARCHITECTURES}, got {conv!r}")
        if num_layers < 1:
            raise ValueError(f"model.num_layers must be >= 1, got {num_layers}")
        if activation not in (None, *ACTIVATIONS):
            raise ValueError(f"model.activation must be one of {list(ACTIVATIONS)} or null")
        if weight_decay_layers not in DECAY_LAYERS:
            raise ValueError(
                f"model.weight_decay_layers must be one of {DECAY_LAYERS}, "
                f"got {weight_decay_layers!r}"
            )
        if conv == "gat" and hidden % heads:
            raise ValueError(f"GAT needs hidden ({hidden}) divisible by heads ({heads})")
        self.conv, self.num_layers, self.dropout, self.cached = conv, num_layers, dropout, cached
        self.K, self.alpha, self.input_dropout = K, alpha, input_dropout
        self.weight_decay_layers = weight_decay_layers
        self.act = ACTIVATIONS[activation or ("elu" if conv == "gat" else "relu")]
        self._graph_key: tuple | None = None
        self._adj: Tensor | None = None
        self._input_nonzero: Tensor | None = None
        dims = [in_dim] + [hidden] * (num_layers - 1) + [out_dim]
        if conv == "sgc":
            self.layers = nn.ModuleList([nn.Linear(in_dim, out_dim, bias=False)])
            self.bias = nn.Parameter(torch.zeros(out_dim))
        elif conv == "appnp":
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(dims))
        elif conv == "gcn":
            self.layers = nn.ModuleList(GCNLayer(a, b) for a, b in pairwise(dims))
        else:
            attn = dropout if attn_dropout is None else attn_dropout
            self.layers = nn.ModuleList(
                self._make_conv(a, b, last=i == num_layers - 1, heads=heads, attn_dropout=attn,
                                cheb_k=cheb_k)
                for i, (a, b) in enumerate(pairwise(dims))
            )

    def _make_conv(self, a: int, b: int, *, last: bool, heads: int, attn_dropout: float,
                   cheb_k: int) -> nn.Module:
        if self.conv == "gat":
            if last:
                return GATConv(a, b, heads=1, concat=False, dropout=attn_dropout)
            return GATConv(a, b // heads, heads=heads, concat=True, dropout=attn_dropout)
        if self.conv == "sage":
            return SAGEConv(a, b, aggr="mean")
        return ChebConv(a, b, K=cheb_k)

    def param_groups(self, weight_decay: float) -> list[dict]:
        """Optimizer parameter groups: ``weight_decay`` on every parameter, or (``first``) on the
        first layer's only and none elsewhere, as the Kipf & Welling reference code and PyG's GCN
        example do (SGC's single linear map and bias count as its first layer)."""
        if self.weight_decay_layers == "all":
            return [{"params": list(self.parameters()), "weight_decay": weight_decay}]
        first = list(self.layers[0].parameters())
        if self.conv == "sgc":
            first.append(self.bias)
        chosen = {id(p) for p in first}
        rest = [p for p in self.parameters() if id(p) not in chosen]
        return [{"params": first, "weight_decay": weight_decay},
                {"params": rest, "weight_decay": 0.0}]

    def reset_parameters(self) -> None:
        for layer in self.layers:
            layer.reset_parameters()
        if self.conv == "sgc":
            nn.init.zeros_(self.bias)

    def _check_graph(self, x: Tensor, edge_index: Tensor) -> None:
        """Recompute the cached Â and the input's sparsity pattern when the graph changes."""
        key = (edge_index.data_ptr(), tuple(edge_index.shape), x.data_ptr(), tuple(x.shape))
        if key == self._graph_key and self.cached:
            return
        self._graph_key = key
        self._adj = (
            normalized_adjacency(edge_index, x.size(0), x.dtype).to(x.device)
            if self.conv in LINEAR_FIRST else None
        )
        nonzero = x.detach().nonzero().t()
        sparse = nonzero.size(1) < SPARSE_INPUT_DENSITY * x.numel()
        self._input_nonzero = nonzero if sparse else None

    def _dropped_input(self, x: Tensor) -> Tensor:
        """Dropout on the input features. For sparse inputs only the non-zero entries are masked,
        which has the distribution of ``F.dropout`` (a dropped zero is still zero) at a fraction
        of the cost; GCN / SGC / APPNP then get a sparse tensor for their first linear map."""
        p = self.dropout if self.input_dropout else 0.0
        if self._input_nonzero is None:
            return F.dropout(x, p, self.training)
        index = self._input_nonzero
        values = x[index[0], index[1]]
        if self.training and p > 0:
            keep = torch.rand(values.shape, device=x.device) >= p
            values = values * keep / (1 - p)
        if self.conv in LINEAR_FIRST:
            return torch.sparse_coo_tensor(
                index, values, x.shape, is_coalesced=True, check_invariants=False
            )
        return torch.zeros_like(x).index_put_((index[0], index[1]), values)

    def forward(
        self, x: Tensor, edge_index: Tensor, return_hidden: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        self._check_graph(x, edge_index)
        hidden: list[Tensor] = []
        h = self._dropped_input(x)
        if self.conv == "sgc":
            h = linear(h, self.layers[0].weight)
            for step in range(self.num_layers):
                h = torch.sparse.mm(self._adj, h)
                hidden.append(h + self.bias if step == self.num_layers - 1 else h)
        else:
            for i, layer in enumerate(self.layers):
                if i > 0:
                    h = F.dropout(h, self.dropout, self.training)
                if self.conv == "appnp":
                    h = linear(h, layer.weight) + layer.bias
                elif self.conv == "gcn":
                    h = layer(h, self._adj)
                else:
                    h = layer(h, edge_index)
                if i < len(self.layers) - 1:
                    h = self.act(h)
                hidden.append(h)
            if self.conv == "appnp":
                hidden[-1] = self._personalized_pagerank(hidden[-1])
        return (hidden[-1], hidden) if return_hidden else hidden[-1]

    def _personalized_pagerank(self, h: Tensor) -> Tensor:
        """APPNP propagation (Klicpera et al. 2019, Eq. 3): K steps of
        Z <- (1 - alpha) Â Z + alpha H, starting from Z = H."""
        z = h
        for _ in range(self.K):
            z = (1 - self.alpha) * torch.sparse.mm(self._adj, z) + self.alpha * h
        return z
