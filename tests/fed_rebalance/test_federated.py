"""FedAvg / FedProx identities, CReFF's pieces, and both engines on a tiny synthetic federation."""

import pytest
import torch

from common.seeding import seeded
from common.vision.models import SmallCNN
from papers.fed_rebalance.baselines import FedAvg, FedProx, focal_loss, proximal_term
from papers.fed_rebalance.creff import (
    CReFF,
    cosine_distance_rows,
    gradient_matching_loss,
    real_feature_gradients,
)
from papers.fed_rebalance.engine.flower import run_flower
from papers.fed_rebalance.engine.simulation import simulate
from papers.fed_rebalance.federated import ClientData, fedavg, run_client
from papers.fed_rebalance.fedsetup import FedSetup
from papers.fed_rebalance.local import FedNet, LocalTraining, Preprocess
from papers.fed_rebalance.redgrape import RedGrape
from papers.fed_rebalance.settings import FlowerSettings, LocalBatches

C = 4
SGD = {"_target_": "torch.optim.SGD", "lr": 0.05, "momentum": 0.9}


def local_training(epochs: int = 1, batch_size: int = 8, augment: bool = True) -> LocalTraining:
    return LocalTraining.from_run(SGD, {"max_epochs": epochs, "grad_clip": 1.0},
                                  LocalBatches(batch_size, augment))


def _setup(method_factory, num_clients=3, n=24, seed=0) -> FedSetup:
    g = torch.Generator().manual_seed(seed)
    clients = []
    for k in range(num_clients):
        y = torch.randint(0, C - k % 2, (n,), generator=g)
        x = torch.randint(0, 256, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
        x[:, 0] = (y * 60).to(torch.uint8).view(-1, 1, 1)  # learnable signal in channel 0
        clients.append(ClientData(x, y))
    test_y = torch.arange(C).repeat(5)
    test_x = torch.randint(0, 256, (len(test_y), 3, 16, 16), generator=g, dtype=torch.uint8)
    test_x[:, 0] = (test_y * 60).to(torch.uint8).view(-1, 1, 1)

    def make_net(num_classes):
        return SmallCNN(num_classes, channels=4, hidden=8)

    def make_model():
        method = method_factory()
        return FedNet(make_net(C), C, supplementary=method.supplementary)

    prep = Preprocess((0.5,) * 3, (0.25,) * 3, torch.device("cpu"))
    return FedSetup(clients, test_x, test_y, [n] * C, C, make_model, method_factory, prep,
                    local_training(), make_net)


def test_fedavg_of_identical_clients_is_the_client():
    model = FedNet(SmallCNN(C, channels=4, hidden=8), C)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    out = fedavg([state, state, state], [3.0, 1.0, 7.0])
    for k in state:
        torch.testing.assert_close(out[k], state[k])


def test_fedavg_weights_by_sample_count():
    a = {"w": torch.tensor([0.0, 4.0])}
    b = {"w": torch.tensor([4.0, 0.0])}
    torch.testing.assert_close(fedavg([a, b], [1.0, 3.0])["w"], torch.tensor([3.0, 1.0]))


def test_fedprox_mu_zero_equals_fedavg():
    setup = _setup(FedAvg)
    model = setup.make_model()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    kwargs = dict(
        local=setup.local, prep=setup.prep, num_classes=C, seed=1, round_idx=0, client_id=0
    )
    a = run_client(FedAvg(), setup.make_model, state, {}, setup.clients[0], **kwargs)
    b = run_client(FedProx(mu=0.0), setup.make_model, state, {}, setup.clients[0], **kwargs)
    c = run_client(FedProx(mu=1.0), setup.make_model, state, {}, setup.clients[0], **kwargs)
    for k in a.state:
        torch.testing.assert_close(a.state[k], b.state[k])
    assert any(not torch.equal(a.state[k], c.state[k]) for k in a.state)


def test_proximal_term_and_focal_loss_by_hand():
    layer = torch.nn.Linear(2, 1, bias=False)
    layer.weight.data = torch.tensor([[1.0, 2.0]])
    assert proximal_term(layer, [torch.tensor([[0.0, 0.0]])], 0.5).item() == 1.25
    logits = torch.tensor([[0.0, 0.0]])
    # p_y = 0.5: -(0.5^2) log 0.5
    expected = -(0.5**2) * torch.log(torch.tensor(0.5))
    torch.testing.assert_close(focal_loss(logits, torch.tensor([0])), expected)


def test_creff_real_gradients_equal_autograd_and_matching_is_zero_on_itself():
    with seeded(0):
        h, y = torch.randn(10, 3), torch.tensor([0, 0, 1, 1, 1, 2, 2, 0, 1, 2])
        head = torch.nn.Linear(3, 3)
    gw, gb, present = real_feature_gradients(h, y, head, 3, 32, 2, torch.Generator())
    for c in range(3):
        loss = torch.nn.functional.cross_entropy(head(h[y == c]), y[y == c])
        w, b = torch.autograd.grad(loss, [head.weight, head.bias])
        torch.testing.assert_close(gw[c], w)
        torch.testing.assert_close(gb[c], b)
    assert present.all()
    d = gradient_matching_loss(h[y == 1], 1, head, (gw[1], gb[1]))
    assert abs(d.item()) < 1e-3  # not exactly 0: CReFF's eps = 1e-6 in the cosine denominator
    rows = cosine_distance_rows(
        torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    )
    assert abs(float(rows) - 1.0) < 1e-5


def test_creff_feature_optimisation_reduces_matching_loss():
    method = CReFF(per_class=5, match_steps=20, feature_lr=0.5, retrain_epochs=2)
    with seeded(0):
        method.setup(FedNet(SmallCNN(C, channels=4, hidden=8), C))
        target_h = torch.randn(8, 8)
    targets = {}
    for c in range(C):
        y = torch.full((8,), c)
        loss = torch.nn.functional.cross_entropy(method.retrained(target_h), y)
        targets[c] = tuple(
            g.detach() for g in torch.autograd.grad(loss, list(method.retrained.parameters()))
        )

    def total():
        return sum(
            gradient_matching_loss(
                method.features[c * 5 : (c + 1) * 5], c, method.retrained, t
            ).item()
            for c, t in targets.items()
        )

    before = total()
    method.optimise_features(targets)
    assert total() < before


def _run(engine, factory):
    setup = _setup(factory)
    logs = []

    def on_round(r, server, metrics):
        logs.append(metrics["train/loss"])

    rounds = dict(rounds=2, per_round=2, seed=0, on_round=on_round)
    if engine == "simulation":
        server = simulate(setup, **rounds)
    else:
        server = run_flower(setup, flower=FlowerSettings(backend="inprocess"), **rounds)
    return logs, {k: v.clone() for k, v in server.model.state_dict().items()}


def test_smoke_both_engines_agree_for_every_method():
    for factory in [
        FedAvg,
        lambda: FedProx(0.1),
        lambda: RedGrape(per_class=2),
        lambda: CReFF(per_class=4, match_steps=3, retrain_epochs=2, real_repeats=2),
    ]:
        sim_loss, sim_state = _run("simulation", factory)
        flw_loss, flw_state = _run("flower", factory)
        assert sim_loss == flw_loss
        for k in sim_state:
            torch.testing.assert_close(sim_state[k], flw_state[k])


@pytest.mark.slow
def test_flower_ray_runtime_matches_simulation():
    """Flower's simulation runtime (Ray actors, one CPU each) gives the simulator's losses and
    model within float noise (thread counts differ between the actors and this process)."""
    setup = _setup(lambda: RedGrape(per_class=2))
    sim_logs, flw_logs = [], []
    simulate(setup, rounds=2, per_round=2, seed=0, on_round=lambda r, s, m: sim_logs.append(m))
    server = run_flower(setup, rounds=2, per_round=2, seed=0,
                        on_round=lambda r, s, m: flw_logs.append(m),
                        flower=FlowerSettings(backend="ray"))
    assert len(flw_logs) == 2
    for a, b in zip(sim_logs, flw_logs, strict=True):
        assert abs(a["train/loss"] - b["train/loss"]) < 1e-4
    assert server.method.prototypes is not None
