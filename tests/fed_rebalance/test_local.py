"""A client's local pass on the shared Trainer is exactly plain mini-batch SGD with clipping."""

import pytest
import torch

from common.params import ConfigError
from common.seeding import seeded
from common.vision.models import SmallCNN
from papers.fed_rebalance.local import (
    ClientBatches,
    FedNet,
    LocalTraining,
    Preprocess,
    cross_entropy_loss,
    train_locally,
)
from papers.fed_rebalance.settings import LocalBatches

C, N, BATCH, EPOCHS, LR, CLIP = 4, 20, 8, 2, 0.05, 1.0


def _data():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (N, 3, 16, 16), generator=g, dtype=torch.uint8)
    return x, torch.randint(0, C, (N,), generator=g)


def _model() -> FedNet:
    with seeded(0):
        return FedNet(SmallCNN(C, channels=4, hidden=8), C, supplementary=True)


def _reference_pass(model, x, y, prep, gen) -> float:
    """Mini-batch SGD with momentum and clipping written out: per epoch a randperm, per batch
    crop + flip from the same generator, zero_grad -> loss -> backward -> clip -> step."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    total, steps = 0.0, 0
    for _ in range(EPOCHS):
        order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), BATCH):
            idx = order[start : start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = cross_entropy_loss(model, (prep(x[idx], gen), y[idx]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), CLIP)
            opt.step()
            total += loss.item()
            steps += 1
    return total / steps


def test_local_pass_is_bit_identical_to_plain_sgd():
    x, y = _data()
    prep = Preprocess((0.5,) * 3, (0.25,) * 3, torch.device("cpu"))
    local = LocalTraining.from_run(
        {"_target_": "torch.optim.SGD", "lr": LR, "momentum": 0.9},
        {"max_epochs": EPOCHS, "grad_clip": CLIP},
        LocalBatches(BATCH, augment=True),
    )
    ours, ref = _model(), _model()
    loss = train_locally(ours, x, y, local=local, prep=prep, loss_fn=cross_entropy_loss,
                         generator=torch.Generator().manual_seed(7))
    want = _reference_pass(ref, x, y, prep, torch.Generator().manual_seed(7))
    assert loss == want
    for (name, a), b in zip(ours.state_dict().items(), ref.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_client_batches_cover_the_data_once_per_pass_in_a_new_order():
    x, y = _data()
    prep = Preprocess((0.0,) * 3, (1.0,) * 3, torch.device("cpu"))
    x[:, 0, 0, 0] = torch.arange(N, dtype=torch.uint8)  # the sample id in one pixel
    batches = ClientBatches(x, y, batch_size=BATCH, prep=prep,
                            generator=torch.Generator().manual_seed(0), augment=False)
    orders = [torch.cat([(xb[:, 0, 0, 0] * 255).round().long() for xb, _ in batches])
              for _ in range(2)]
    assert len(batches) == 3
    assert sorted(orders[0].tolist()) == list(range(N)) == sorted(orders[1].tolist())
    assert not torch.equal(orders[0], orders[1])


def test_local_training_needs_local_epochs():
    with pytest.raises(ConfigError, match="trainer.max_epochs"):
        LocalTraining.from_run({"_target_": "torch.optim.SGD", "lr": 0.1},
                               {"max_epochs": None, "max_steps": 10}, LocalBatches())
