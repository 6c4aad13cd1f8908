"""The loop's step mode: max_steps, per-step schedules with warm-up, evaluation every N steps,
callbacks, seeded shuffling, HF-style outputs, and resume mid-epoch to the same result."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from common.optim import LinearWarmupDecay
from common.training import Callback, SeededBatches, Trainer, TrainerConfig

X = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
Y = (X.sum(1) > 0).long()
DATA = list(zip(X, Y, strict=True))


class Stop(Exception):
    pass


class StopAt(Callback):
    """Raise after optimizer step ``at`` (a crash mid-epoch)."""

    def __init__(self, at: int):
        self.at = at

    def after_step(self, trainer):
        if trainer.step == self.at:
            raise Stop


def make_trainer(tmp: Path | None = None, resume: bool = False, callbacks=(), **cfg):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.3),
                                torch.nn.Linear(8, 2))
    options = {"max_epochs": 3, "unit": "step", "eval_every": 4, "checkpoint_every": 0,
               "progress": False, **cfg}
    return Trainer(
        TrainerConfig(**options), model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        loss_fn=lambda m, b: F.cross_entropy(m(b[0]), b[1]),
        train_data=SeededBatches(DATA, 8, seed=7),
        evaluate=lambda m: {"val/acc": float((m(X).argmax(1) == Y).float().mean())},
        schedule=LinearWarmupDecay(warmup=3),
        callbacks=callbacks, checkpoint_dir=tmp, name="steps", resume=resume,
    )


def test_max_steps_eval_every_and_schedule():
    lrs = []

    class Record(Callback):
        def after_step(self, trainer):
            lrs.append(trainer.optimizer.param_groups[0]["lr"])

    trainer = make_trainer(max_epochs=None, max_steps=10, callbacks=[Record()])
    result = trainer.fit()
    assert result.steps == 10 and result.epochs == 2
    evals = [r["step"] for r in result.history if "val/acc" in r]
    assert evals == [4, 8, 10]
    # HF linear warm-up: lr after step t is lr0 * factor(t) for t = 1..10, total 10, warm-up 3
    want = [0.1 * LinearWarmupDecay(warmup=3)(t, 10, 0.1) for t in range(1, 11)]
    assert lrs == pytest.approx(want)
    assert lrs[:3] == pytest.approx([0.1 / 3, 0.2 / 3, 0.1])


def test_max_epochs_bounds_step_mode():
    result = make_trainer(max_epochs=2).fit()
    assert result.steps == 10 and result.epochs == 2
    assert result.history[-1]["step"] == 10 and "val/acc" in result.history[-1]


def test_seeded_batches_are_per_epoch_and_shardable():
    batches = SeededBatches(DATA, 8, seed=7)
    first = [b[1].tolist() for b in batches.epoch(0)]
    assert first == [b[1].tolist() for b in batches.epoch(0)]
    assert first != [b[1].tolist() for b in batches.epoch(1)]
    assert [b[1].tolist() for b in batches.epoch(0, skip=2)] == first[2:]
    halves = [SeededBatches(DATA, 8, seed=7, shard=r, num_shards=2) for r in (0, 1)]
    for whole, a, b in zip(batches.epoch(0), halves[0].epoch(0), halves[1].epoch(0),
                           strict=True):
        assert torch.equal(torch.cat([a[0], b[0]]), whole[0])


@pytest.mark.parametrize("crash_at", [3, 6, 7])
def test_resume_mid_epoch_reproduces_the_uninterrupted_run(tmp_path, crash_at):
    reference = make_trainer()
    want = reference.fit()
    with pytest.raises(Stop):
        make_trainer(tmp_path, checkpoint_every=1, callbacks=[StopAt(crash_at)]).fit()
    resumed = make_trainer(tmp_path, resume=True, checkpoint_every=1)
    assert resumed.state.step == 0
    got = resumed.fit()
    assert got.best_metrics == want.best_metrics and got.steps == want.steps
    assert [r["train/loss"] for r in got.history if "train/loss" in r] == pytest.approx(
        [r["train/loss"] for r in want.history if "train/loss" in r], rel=0, abs=0)
    for a, b in zip(resumed.model.parameters(), reference.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_checkpoints_load_with_weights_only(tmp_path):
    make_trainer(tmp_path, checkpoint_every=2).fit()
    payload = torch.load(tmp_path / "steps.pt", weights_only=True)
    assert payload["finished"] and payload["result"]["steps"] == 15


def test_loss_fn_may_return_an_output_with_loss_and_callbacks_see_every_phase():
    seen = []

    class Trace(Callback):
        def before_backward(self, trainer, loss):
            seen.append(("before", loss.requires_grad))

        def after_backward(self, trainer):
            seen.append(("after", trainer.model[0].weight.grad is not None))

        def after_evaluate(self, trainer, metrics):
            seen.append(("eval", "val/acc" in metrics))

    trainer = make_trainer(max_epochs=1, callbacks=[Trace()])
    trainer.loss_fn = lambda m, b: SimpleNamespace(loss=F.cross_entropy(m(b[0]), b[1]))
    trainer.fit()
    assert seen[:2] == [("before", True), ("after", True)] and ("eval", True) in seen


def test_bad_step_options_are_named():
    with pytest.raises(ValueError, match="trainer.unit"):
        TrainerConfig(unit="batch")
    with pytest.raises(ValueError, match="max_epochs / trainer.max_steps"):
        TrainerConfig(max_epochs=None, max_steps=None)
    with pytest.raises(ValueError, match="trainer.max_steps"):
        TrainerConfig(max_steps=0)
