"""The GNN zoo against dense references; graph loading from the mirror."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import erdos_renyi_graph, to_dense_adj

from common.graph.models import ARCHITECTURES, GNN


def dense_norm_adj(edge_index, n):
    """Â = D^-1/2 (A + I) D^-1/2 (Kipf & Welling 2017, Eq. 2)."""
    a = to_dense_adj(edge_index, max_num_nodes=n)[0] + torch.eye(n)
    d = a.sum(1).pow(-0.5)
    return d[:, None] * a * d[None, :]


@pytest.fixture
def graph():
    torch.manual_seed(0)
    n = 30
    return torch.randn(n, 8), erdos_renyi_graph(n, 0.15)


@pytest.mark.parametrize("conv", ARCHITECTURES)
@pytest.mark.parametrize("layers", [1, 3, 8])
def test_every_model_returns_each_layer(graph, conv, layers):
    x, ei = graph
    model = GNN(8, 4, conv=conv, hidden=16, num_layers=layers, heads=4).eval()
    out, hidden = model(x, ei, return_hidden=True)
    assert out.shape == (30, 4) and len(hidden) == layers
    assert torch.equal(hidden[-1], out)


def test_gcn_layer_matches_dense_formula(graph):
    x, ei = graph
    model = GNN(8, 3, conv="gcn", num_layers=1).eval()
    conv = model.layers[0]
    expected = dense_norm_adj(ei, 30) @ (x @ conv.lin.weight.T) + conv.bias
    torch.testing.assert_close(model(x, ei), expected, atol=1e-5, rtol=1e-5)


def test_sgc_is_a_power_of_the_normalised_adjacency(graph):
    x, ei = graph
    model = GNN(8, 3, conv="sgc", num_layers=3).eval()
    with torch.no_grad():
        model.bias.fill_(0.25)
    a = dense_norm_adj(ei, 30)
    expected = torch.linalg.matrix_power(a, 3) @ x @ model.layers[0].weight.T + 0.25
    torch.testing.assert_close(model(x, ei), expected, atol=1e-5, rtol=1e-5)


def test_a_new_graph_is_not_served_from_the_cache(graph):
    x, ei = graph
    model = GNN(8, 3, conv="gcn", num_layers=2).eval()
    model(x, ei)
    other = erdos_renyi_graph(30, 0.3)
    fresh = GNN(8, 3, conv="gcn", num_layers=2).eval()
    fresh.load_state_dict(model.state_dict())
    torch.testing.assert_close(model(x, other), fresh(x, other))


@pytest.mark.parametrize("conv", ["gcn", "gat"])
def test_sparse_input_dropout_keeps_zeros_and_rescales(conv):
    torch.manual_seed(0)
    x = (torch.rand(200, 300) < 0.02).float() * 3.0
    model = GNN(300, 2, conv=conv, dropout=0.5, heads=2)
    model.train()
    model._check_graph(x, torch.zeros(2, 0, dtype=torch.long))
    dropped = model._dropped_input(x)
    dropped = dropped.to_dense() if dropped.is_sparse else dropped
    assert torch.all(dropped[x == 0] == 0)
    kept = dropped[x != 0]
    assert set(kept.unique().tolist()) <= {0.0, 6.0}
    assert 0.4 < (kept > 0).float().mean().item() < 0.6
    model.eval()
    evaluated = model._dropped_input(x)
    assert torch.equal(evaluated.to_dense() if evaluated.is_sparse else evaluated, x)


def test_gcn_equals_pyg_gcnconv_on_sparse_input():
    """Our sparse-input GCN against PyG's GCNConv stack with the same weights."""
    from torch_geometric.nn import GCNConv

    torch.manual_seed(1)
    x = (torch.rand(40, 50) < 0.05).float()
    ei = erdos_renyi_graph(40, 0.1)
    model = GNN(50, 3, conv="gcn", hidden=8, num_layers=2).eval()
    convs = [GCNConv(50, 8), GCNConv(8, 3)]
    for conv, ours in zip(convs, model.layers, strict=True):
        conv.lin.weight.data.copy_(ours.lin.weight)
        conv.bias.data.copy_(ours.bias)
    expected = convs[1](torch.relu(convs[0](x, ei)), ei)
    torch.testing.assert_close(model(x, ei), expected, atol=1e-5, rtol=1e-5)


def test_appnp_matches_the_dense_fixed_point_iteration(graph):
    x, ei = graph
    model = GNN(8, 3, conv="appnp", num_layers=1, K=5, alpha=0.2).eval()
    a = dense_norm_adj(ei, 30)
    h = x @ model.layers[0].weight.T + model.layers[0].bias
    z = h
    for _ in range(5):
        z = 0.8 * a @ z + 0.2 * h
    torch.testing.assert_close(model(x, ei), z, atol=1e-5, rtol=1e-5)


def test_planetoid_from_mirror(mirror_asset):
    mirror_asset("planetoid/Cora/raw")
    from common.graph.data import load_graph

    data = load_graph("cora")
    assert data.num_nodes == 2708 and int(data.y.max()) + 1 == 7
    assert int(data.train_mask.sum()) == 140 and int(data.test_mask.sum()) == 1000


def test_unknown_names_are_refused():
    from common.graph.data import load_graph

    with pytest.raises(ValueError, match="known"):
        load_graph("coraa")
    with pytest.raises(ValueError, match="model.conv"):
        GNN(4, 2, conv="gin")


def test_input_dropout_switch_and_activation_choice():
    torch.manual_seed(0)
    x = (torch.rand(50, 60) < 0.05).float()
    model = GNN(60, 2, conv="gcn", dropout=0.5, input_dropout=False).train()
    model._check_graph(x, torch.zeros(2, 0, dtype=torch.long))
    assert torch.equal(model._dropped_input(x).to_dense(), x)
    gat = GNN(60, 2, conv="gat", heads=2, hidden=8)
    assert gat.act is torch.nn.functional.elu
    relu_gat = GNN(60, 2, conv="gat", heads=2, hidden=8, activation="relu")
    assert relu_gat.act is torch.nn.functional.relu
    with pytest.raises(ValueError, match="activation"):
        GNN(60, 2, activation="tanh")


def test_row_normalize_matches_pyg_normalize_features():
    from torch_geometric.data import Data
    from torch_geometric.transforms import NormalizeFeatures

    from common.graph.data import row_normalize

    x = torch.tensor([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 4.0]])
    expected = NormalizeFeatures()(Data(x=x.clone())).x
    assert torch.allclose(row_normalize(x), expected)
    assert torch.allclose(row_normalize(x)[0], torch.tensor([0.25, 0.75, 0.0]))
    assert torch.equal(row_normalize(x)[1], torch.zeros(3))


@pytest.mark.parametrize("conv", ["gcn", "sgc", "gat"])
def test_first_layer_weight_decay_touches_the_first_layer_only(conv):
    """Kipf & Welling's L2 on the first layer: with zero gradients, an Adam step with decay moves
    exactly the first layer's parameters; ``all`` moves every non-zero parameter."""
    for scope in ("first", "all"):
        torch.manual_seed(0)
        model = GNN(8, 3, conv=conv, hidden=8, num_layers=3, heads=2, weight_decay_layers=scope)
        for p in model.parameters():
            p.data.add_(0.1)
        first = {id(p) for p in model.layers[0].parameters()} | (
            {id(model.bias)} if conv == "sgc" else set())
        before = {id(p): p.detach().clone() for p in model.parameters()}
        opt = torch.optim.Adam(model.param_groups(0.5), lr=0.1)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        opt.step()
        for p in model.parameters():
            moved = not torch.equal(p, before[id(p)])
            assert moved == (scope == "all" or id(p) in first)


def test_unknown_weight_decay_scope_is_refused():
    with pytest.raises(ValueError, match="weight_decay_layers"):
        GNN(8, 3, weight_decay_layers="last")
