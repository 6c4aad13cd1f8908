"""Step-based fine-tuning through ``common.run``: the warm-up + linear-decay learning rate the
loop logs, evaluation every N steps, typed task validation, and a run killed mid-epoch that
resumes (``resume=true``, same run folder) to exactly the uninterrupted run's metrics.

Every run is ``experiment=text/smoke`` (tiny random BERT, 64 SST-2 sentences, 8 steps of 16 =
two epochs, warm-up 2 steps, evaluation every 4). The interrupted run checkpoints every 3 steps,
so the crash at step 5 resumes from step 3, in the middle of the first epoch; the reference run
writes no checkpoint at all. The MiniLM variant does the same with the real all-MiniLM-L6-v2
(32 sentences, batches of 8; dropout on, so the restored RNG state must reproduce its masks).
"""

from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path

import pytest
import torch
from conftest import compose

import common.text.experiment as text_experiment
from common.context import RunContext
from common.params import ConfigError
from common.run import execute, prepare_task
from common.text.classification import fine_tune
from common.training import Callback

STEPS, WARMUP, EVAL_EVERY, CHECKPOINT_EVERY, CRASH_AT = 8, 2, 4, 3, 5
RUN = ["trainer.max_steps=8", "trainer.eval_every=4", "schedule.warmup_ratio=0.25"]
MODELS = {
    "tiny-bert": [],
    "minilm-l6": ["model=minilm-l6", "task.train_size=32", "task.eval_size=32",
                  "task.batch_size=8", "task.eval_batch_size=32", "optim.lr=1e-4"],
}


class Crash(Callback):
    """Raise after optimizer step ``at``: a run killed between two checkpoints."""

    def __init__(self, at: int):
        self.at = at

    def after_step(self, trainer) -> None:
        if trainer.step == self.at:
            raise RuntimeError(f"killed after step {self.at}")


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``reference(model)``: the results of the uninterrupted run of ``model`` (run once)."""

    @functools.cache
    def run(model: str) -> dict:
        run_dir = tmp_path_factory.mktemp(f"reference-{model}")
        return execute(compose("text/smoke", *RUN, *MODELS[model]), run_dir)

    return run


def test_lr_follows_warmup_then_linear_decay_and_eval_every_n_steps(reference):
    results = reference("tiny-bert")
    rows = _rows(Path(results["run_dir"]))
    lr0 = compose("text/smoke").optim.lr
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    # after step t the scheduler has stepped t times: lr = lr0 * t / w during warm-up, then
    # lr0 * (T - t) / (T - w) (HF get_linear_schedule_with_warmup)
    expected = [lr0 * (t / WARMUP if t < WARMUP else (STEPS - t) / (STEPS - WARMUP))
                for t in range(1, STEPS + 1)]
    assert [r["train/lr"] for r in rows] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert max(r["train/lr"] for r in rows) == pytest.approx(lr0)
    evaluated = [r["step"] for r in rows if "validation/acc" in r]
    assert evaluated == list(range(EVAL_EVERY, STEPS + 1, EVAL_EVERY))
    metrics = results["metrics"]
    best = max((r for r in rows if "validation/acc" in r), key=lambda r: r["validation/acc"])
    assert metrics["best_step"] == best["step"]
    assert metrics["validation/acc"] == best["validation/acc"]
    assert set(metrics) == {"validation/acc", "validation/macro_f1", "validation/loss",
                            "validation/majority_acc", "best_step"}


@pytest.mark.parametrize("model", list(MODELS))
def test_resume_mid_epoch_reaches_the_uninterrupted_metrics(model, reference, tmp_path,
                                                            monkeypatch):
    expected = reference(model)
    overrides = [*RUN, *MODELS[model], f"trainer.checkpoint_every={CHECKPOINT_EVERY}"]
    run_dir = tmp_path / "crashed"
    with monkeypatch.context() as patch:
        patch.setattr(text_experiment, "fine_tune",
                      functools.partial(fine_tune, callbacks=[Crash(CRASH_AT)]))
        with pytest.raises(RuntimeError, match=f"killed after step {CRASH_AT}"):
            execute(compose("text/smoke", *overrides), run_dir)
    (checkpoint,) = (run_dir / "checkpoints").glob("*.pt")
    state = torch.load(checkpoint, weights_only=True)["state"]
    assert (state["step"], state["epoch"], state["batch"]) == (CHECKPOINT_EVERY, 0, 3)
    resumed = execute(compose("text/smoke", *overrides, "resume=true"), run_dir)
    assert resumed["run_dir"] == str(run_dir)
    assert resumed["metrics"] == expected["metrics"]


def test_task_lr_is_gone_and_task_values_are_checked():
    with pytest.raises(ConfigError, match=r"task\.lr: unknown key"):
        prepare_task(compose("text/smoke", "+task.lr=1e-3"))
    with pytest.raises(ConfigError, match=r"task\.batch_size: must be > 0"):
        prepare_task(compose("text/smoke", "task.batch_size=0"))
    with pytest.raises(ConfigError, match=r"task\.eval_split"):
        prepare_task(compose("text/smoke", "task.eval_split=train"))


class SecondOfTwo:
    """What rank 1 of a two-process run sees of ``ctx.accelerator`` (no process group: the
    model is not wrapped, gradients are not averaged; enough to see which rows it trains on)."""

    num_processes, process_index, is_main_process = 2, 1, False
    device = torch.device("cpu")

    def reduce(self, tensor, reduction):
        return tensor

    def prepare_model(self, model):
        return model

    def prepare_optimizer(self, optimizer):
        return optimizer

    def autocast(self):
        return contextlib.nullcontext()

    def backward(self, loss):
        loss.backward()


def test_each_process_trains_on_its_half_of_every_batch(tmp_path, monkeypatch):
    rows: list[int] = []

    def spy_fine_tune(ctx, model, *args, **kwargs):
        def record(module, args, kwargs):
            if module.training:
                rows.append(kwargs["input_ids"].shape[0])

        model.register_forward_pre_hook(record, with_kwargs=True)
        return fine_tune(ctx, model, *args, **kwargs)

    monkeypatch.setattr(RunContext, "accelerator", SecondOfTwo())
    monkeypatch.setattr(text_experiment, "fine_tune", spy_fine_tune)
    results = execute(compose("text/smoke", *RUN), tmp_path)
    assert results["status"] == "finished"
    assert rows == [16 // 2] * STEPS
