"""The one supervised training loop every paper that trains uses (graphs, images, text, LMs).

The loop owns epochs and steps (``max_epochs`` / ``max_steps``), gradient accumulation, clipping
and mixed precision (through accelerate), per-step or per-epoch learning-rate schedules,
evaluation / checkpoints / logging every N steps or epochs (``unit``), early stopping on a named
metric, best-state restore, resume mid-epoch, callbacks at batch / step / eval, and the progress
bar; the paper owns the model, the loss and the evaluation.

Training data is either an iterable of batches (full-batch graph training passes ``[data]``;
a ``DataLoader`` works) or :class:`SeededBatches`, a map-style dataset with a per-epoch seeded
shuffle that makes a resumed run draw exactly the batches the uninterrupted run would have.
A loss function returns a tensor, ``(tensor, logs)``, or a model output with a ``.loss``
(Hugging Face models as they are).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from common.optim import Schedule, build_optimizer, build_schedule, lambda_scheduler
from common.seeding import derive_seed, rng_state, set_rng_state
from common.tracking import Tracker

if TYPE_CHECKING:
    from common.context import RunContext

LossFn = Callable[[torch.nn.Module, Any], Any]
EvalFn = Callable[[torch.nn.Module], Mapping[str, float]]
UNITS = ("epoch", "step")


@dataclass
class TrainerConfig:
    """Loop settings; ``configs/trainer/default.yaml`` holds the defaults a run starts from.

    ``eval_every``, ``checkpoint_every`` and ``log_every`` count ``unit``s (epochs or optimizer
    steps). Training ends at ``max_epochs`` or ``max_steps``, whichever comes first (either may be
    null, not both). ``patience`` counts evaluations without improvement of ``monitor``.
    """

    max_epochs: int | None = 100
    max_steps: int | None = None
    unit: str = "epoch"
    eval_every: int = 1
    checkpoint_every: int = 10
    log_every: int = 1
    monitor: str | None = None
    mode: str = "max"
    patience: int | None = None
    min_epochs: int = 0
    grad_accum: int = 1
    grad_clip: float | None = None
    mixed_precision: str = "no"
    restore_best: bool = True
    log: bool = True
    log_prefix: str = ""
    progress: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"trainer.mode: must be 'max' or 'min', got {self.mode!r}")
        if self.unit not in UNITS:
            raise ValueError(f"trainer.unit: must be one of {UNITS}, got {self.unit!r}")
        if self.max_epochs is None and self.max_steps is None:
            raise ValueError("trainer.max_epochs / trainer.max_steps: set at least one")
        for key in ("max_epochs", "max_steps"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"trainer.{key}: must be >= 1, got {value}; or null")
        for key in ("eval_every", "grad_accum", "log_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"trainer.{key}: must be >= 1, got {getattr(self, key)}")
        if self.checkpoint_every < 0:
            raise ValueError("trainer.checkpoint_every: must be >= 0 (0 turns checkpoints off)")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"trainer.grad_clip: must be > 0 or null, got {self.grad_clip}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError("trainer.mixed_precision: must be 'no', 'fp16' or 'bf16', "
                             f"got {self.mixed_precision!r}")
        if self.patience is not None and self.monitor is None:
            raise ValueError("trainer.patience: needs trainer.monitor (the metric to watch)")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainerConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown trainer option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


class Callback:
    """Hooks into the loop; override what you need (all default to doing nothing)."""

    def before_backward(self, trainer: Trainer, loss: torch.Tensor) -> None: ...

    def after_backward(self, trainer: Trainer) -> None: ...

    def after_step(self, trainer: Trainer) -> None: ...

    def after_evaluate(self, trainer: Trainer, metrics: Mapping[str, float]) -> None: ...

    def after_epoch(self, trainer: Trainer) -> None: ...


class SeededBatches:
    """Mini-batches of a map-style ``dataset``, reshuffled every epoch with the seed
    ``derive_seed(seed, "shuffle", epoch)``: the order of epoch e never depends on how many
    epochs ran before in this process, so a resumed run sees the same batches.

    With several processes (``num_shards`` > 1) every global batch is split into contiguous
    per-process slices, so the effective batch is ``batch_size`` whatever the process count;
    a last batch with fewer rows than processes is an error (use ``drop_last``), and an uneven
    one weights its rows by slice (each process averages its own slice).
    """

    def __init__(self, dataset: Any, batch_size: int, *, seed: int, shuffle: bool = True,
                 collate_fn: Callable[[list[Any]], Any] | None = None, drop_last: bool = False,
                 shard: int = 0, num_shards: int = 1):
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        self.dataset, self.batch_size, self.seed, self.shuffle = dataset, batch_size, seed, shuffle
        self.collate_fn = collate_fn or torch.utils.data.default_collate
        self.drop_last, self.shard, self.num_shards = drop_last, shard, num_shards

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        n = len(self.dataset)
        if not self.shuffle:
            return torch.arange(n)
        gen = torch.Generator().manual_seed(derive_seed(self.seed, "shuffle", epoch))
        return torch.randperm(n, generator=gen)

    def epoch(self, epoch: int, skip: int = 0) -> Iterator[Any]:
        """The batches of ``epoch`` after the first ``skip``."""
        order = self.order(epoch)
        for b in range(skip, len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            if self.num_shards > 1:
                if len(idx) < self.num_shards:
                    raise ValueError(f"batch {b} of epoch {epoch} has {len(idx)} rows for "
                                     f"{self.num_shards} processes; pass drop_last=True")
                idx = idx.tensor_split(self.num_shards)[self.shard]
            yield self.collate_fn([self.dataset[int(i)] for i in idx])


@dataclass
class FitResult:
    """What ``Trainer.fit`` returns: the metrics of the best evaluation and the whole history."""

    best_metrics: dict[str, float]
    best_epoch: int
    epochs: int
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    steps: int = 0
    best_step: int = 0


@dataclass
class _State:
    """Where the loop is: what a checkpoint holds besides model / optimizer / RNG states."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_metrics: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0
    best_step: int = 0
    bad_evals: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0
    extras: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Epoch / step loop with early stopping, best-state restore and resumable checkpoints."""

    def __init__(
        self,
        cfg: TrainerConfig,
        *,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: LossFn,
        train_data: Iterable[Any] | SeededBatches,
        evaluate: EvalFn | None = None,
        schedule: Schedule | None = None,
        callbacks: Sequence[Callback] = (),
        tracker: Tracker | None = None,
        accelerator: Any | None = None,
        checkpoint_dir: Path | None = None,
        name: str = "model",
        resume: bool = False,
    ):
        self.cfg = cfg
        self.model = model
        self.loss_fn = loss_fn
        self.train_data = train_data
        self.evaluate = evaluate
        self.schedule = schedule
        self.callbacks = list(callbacks)
        self.tracker = tracker
        self.accelerator = accelerator
        distributed = accelerator is not None and accelerator.num_processes > 1
        self.module = accelerator.prepare_model(model) if distributed else model
        self.optimizer = accelerator.prepare_optimizer(optimizer) if accelerator else optimizer
        self.scheduler: torch.optim.lr_scheduler.LambdaLR | None = None
        self.name = name
        self.resume = resume
        self.is_main = accelerator is None or accelerator.is_main_process
        safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)
        self.checkpoint = checkpoint_dir / f"{safe}.pt" if checkpoint_dir else None
        self.state = _State()

    @classmethod
    def from_context(
        cls,
        ctx: RunContext,
        *,
        name: str,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        params: Iterable[Any] | None = None,
        schedule: Schedule | None = None,
        **kwargs: Any,
    ) -> Trainer:
        """A trainer configured from the run: ``cfg.trainer`` (keyword arguments that are
        ``TrainerConfig`` fields override it), the optimizer of ``cfg.optim`` over ``params``
        (default: the model's parameters) unless one is passed, and ``cfg.schedule``."""
        fields = {f.name for f in dataclasses.fields(TrainerConfig)}
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        base = OmegaConf.to_container(ctx.cfg.get("trainer", {}), resolve=True)
        cfg = TrainerConfig.from_mapping({**base, **overrides})
        cfg.progress = cfg.progress and ctx.show_progress
        if optimizer is None:
            if ctx.cfg.get("optim") is None:
                raise ValueError("optim: this run has no optimizer config; add optim=adam (or "
                                 "sgd, adamw) to the command or the experiment's defaults")
            optimizer = build_optimizer(ctx.cfg.optim,
                                        model.parameters() if params is None else params)
        if schedule is None:
            schedule = build_schedule(ctx.cfg.get("schedule"))
        return cls(
            cfg,
            model=model,
            optimizer=optimizer,
            schedule=schedule,
            tracker=ctx.tracker,
            accelerator=ctx.accelerator,
            checkpoint_dir=ctx.run_dir / "checkpoints",
            name=name,
            resume=ctx.resume,
            **kwargs,
        )

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return self.state.step

    @property
    def epoch(self) -> int:
        """Epochs completed so far."""
        return self.state.epoch

    def batches_per_epoch(self) -> int | None:
        data = self.train_data
        return len(data) if hasattr(data, "__len__") else None

    def total_units(self, interval: str) -> int:
        """The run's length in ``interval`` units (what a schedule decays over)."""
        cfg = self.cfg
        per_epoch = self.batches_per_epoch()
        steps_per_epoch = -(-per_epoch // cfg.grad_accum) if per_epoch else None
        if interval == "epoch":
            if cfg.max_epochs is not None:
                return cfg.max_epochs
            if steps_per_epoch is None:
                raise ValueError("an epoch schedule with trainer.max_steps needs sized train data")
            return -(-cfg.max_steps // steps_per_epoch)
        by_epochs = cfg.max_epochs * steps_per_epoch if cfg.max_epochs and steps_per_epoch else None
        candidates = [v for v in (cfg.max_steps, by_epochs) if v is not None]
        if not candidates:
            raise ValueError("a step schedule needs trainer.max_steps or sized train data")
        return min(candidates)

    def fit(self) -> FitResult:
        """Train to ``max_epochs`` / ``max_steps``; return the best evaluation (the model holds
        its state: the best one when ``restore_best``)."""
        cfg = self.cfg
        if self.schedule is not None:
            total = self.total_units(self.schedule.interval)
            self.scheduler = lambda_scheduler(self.optimizer, self.schedule, total)
        loaded = self._load() if self.resume else None
        if loaded is not None and loaded.get("finished"):
            self.model.load_state_dict(loaded["model"])
            return FitResult(**loaded["result"])
        self._best_state = loaded["best_state"] if loaded else None
        stopped_early = self._loop()
        s = self.state
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        result = FitResult(
            best_metrics=s.best_metrics or (self._evaluate() if self.evaluate else {}),
            best_epoch=s.best_epoch if s.best_metrics else s.epoch,
            epochs=s.epoch,
            history=s.history,
            stopped_early=stopped_early,
            steps=s.step,
            best_step=s.best_step if s.best_metrics else s.step,
        )
        if self.checkpoint and cfg.checkpoint_every:
            self._save({"finished": True, "model": self.model.state_dict(),
                        "result": dataclasses.asdict(result)})
        return result

    def _loop(self) -> bool:
        """Run epochs until a budget is spent; True when early stopping ended the run."""
        cfg, s = self.cfg, self.state
        per_epoch = self.batches_per_epoch()
        bar = self._bar()
        try:
            while cfg.max_epochs is None or s.epoch < cfg.max_epochs:
                seen = 0
                for batch in self._epoch_batches():
                    self._micro_step(batch)
                    seen += 1
                    at_end = s.batch == per_epoch
                    if s.batch % cfg.grad_accum == 0 or at_end:
                        outcome = self._step_and_report(bar, at_end)
                        if outcome is not None:
                            return outcome
                if seen == 0:
                    raise ValueError(f"trainer '{self.name}': train_data yielded no batch")
                if s.batch:
                    outcome = self._step_and_report(bar, True, bool(s.batch % cfg.grad_accum))
                    if outcome is not None:
                        return outcome
            if cfg.unit == "step" and not self._just_evaluated:
                self._after_unit(s.step, bar, final=True)
            return False
        finally:
            bar.close()

    def _step_and_report(self, bar: tqdm, epoch_end: bool, take_step: bool = True
                         ) -> bool | None:
        """An optimizer step (and the epoch's end), then logging / evaluation / checkpoints for
        the finished unit. Returns True to stop early, False when the budget is spent, else
        None."""
        cfg, s = self.cfg, self.state
        if take_step:
            self._optimizer_step()
        done = cfg.max_steps is not None and s.step >= cfg.max_steps
        if epoch_end:
            self._end_epoch()
        if cfg.unit == "step":
            if take_step:
                bar.update(1)
                if self._after_unit(s.step, bar, final=done):
                    return True
            return False if done else None
        if epoch_end or done:
            bar.update(1)
            if self._after_unit(s.epoch + (s.batch > 0), bar, final=done):
                return True
        return False if done else None

    def _end_epoch(self) -> None:
        s = self.state
        s.epoch, s.batch = s.epoch + 1, 0
        if self.scheduler is not None and self.schedule.interval == "epoch":
            self.scheduler.step()
        for cb in self.callbacks:
            cb.after_epoch(self)

    def _bar(self) -> tqdm:
        cfg, s = self.cfg, self.state
        if cfg.unit == "step":
            total, done = self.total_units("step"), s.step
        else:
            total, done = cfg.max_epochs, s.epoch
        return tqdm(total=total, initial=done, desc=self.name, disable=not self._show_bars(),
                    dynamic_ncols=True, leave=False)

    def _show_bars(self) -> bool:
        """Per-training bars are transient (cleared when a training ends, early stop included):
        shown on a terminal only, since a log file would keep every redraw as a line."""
        return self.cfg.progress and sys.stderr.isatty()

    def _epoch_batches(self) -> Iterator[Any]:
        s = self.state
        data = self.train_data
        if isinstance(data, SeededBatches):
            batches: Iterable[Any] = data.epoch(s.epoch, skip=s.batch)
        else:
            batches = iter(data)
            for _ in range(s.batch):
                next(batches)
        per_epoch = self.batches_per_epoch()
        if self._show_bars() and self.cfg.unit == "epoch" and per_epoch and per_epoch > 1:
            batches = tqdm(batches, desc="batches", leave=False, dynamic_ncols=True,
                           total=per_epoch, initial=s.batch)
        return iter(batches)

    def _micro_step(self, batch: Any) -> None:
        s = self.state
        with self._autocast():
            out = self.loss_fn(self.module, batch)
        loss, logs = _split_loss(out)
        for cb in self.callbacks:
            cb.before_backward(self, loss)
        self._backward(loss / self.cfg.grad_accum)
        for cb in self.callbacks:
            cb.after_backward(self)
        s.batch += 1
        step_loss = loss.detach().double()
        self._loss_acc = step_loss if self._loss_acc is None else self._loss_acc + step_loss
        s.loss_count += 1
        for k, v in logs.items():
            s.extras[k] = s.extras.get(k, 0.0) + float(v)

    def _optimizer_step(self) -> None:
        if self.cfg.grad_clip is not None:
            params = self.model.parameters()
            if self.accelerator is not None:
                self.accelerator.clip_grad_norm_(params, self.cfg.grad_clip)
            else:
                torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        if self.scheduler is not None and self.schedule.interval == "step":
            self.scheduler.step()
        for cb in self.callbacks:
            cb.after_step(self)

    def _after_unit(self, unit: int, bar: tqdm, final: bool = False) -> bool:
        """Log, evaluate and checkpoint after epoch / step ``unit``; True to stop early."""
        cfg, s = self.cfg, self.state
        self._just_evaluated = False
        by_step = cfg.unit == "step"
        last = final or (not by_step and cfg.max_epochs is not None and unit == cfg.max_epochs)
        record: dict[str, float] = {}
        if (last or unit % cfg.log_every == 0) and unit != self._logged_unit:
            record = self._train_record(unit)
            self._logged_unit = unit
        if self.evaluate is not None and (last or unit % cfg.eval_every == 0):
            metrics = self._evaluate()
            self._just_evaluated = True
            record = {**(record or {"step" if by_step else "epoch": unit}), **metrics}
            if self._improved(metrics, s.best_metrics):
                s.best_metrics, s.best_epoch, s.best_step, s.bad_evals = (
                    dict(metrics), s.epoch if by_step else unit, s.step, 0)
                if cfg.restore_best:
                    self._best_state = _clone_state(self.model)
            else:
                s.bad_evals += 1
            if cfg.monitor is not None:
                bar.set_postfix({cfg.monitor: f"{metrics[cfg.monitor]:.4f}"}, refresh=False)
            for cb in self.callbacks:
                cb.after_evaluate(self, metrics)
        if record:
            s.history.append(record)
            if cfg.log and self.tracker is not None and self.is_main:
                self.tracker.log({f"{cfg.log_prefix}{k}": v for k, v in record.items()},
                                 step=unit)
        if cfg.patience is not None and s.epoch >= cfg.min_epochs and s.bad_evals >= cfg.patience:
            return True
        if self.checkpoint and cfg.checkpoint_every and unit % cfg.checkpoint_every == 0:
            self._save_progress()
        return False

    _just_evaluated = False
    _logged_unit = -1
    _loss_acc: torch.Tensor | None = None
    _best_state: dict[str, torch.Tensor] | None = None

    def _train_record(self, unit: int) -> dict[str, float]:
        """The mean training loss (and logs) since the last record, over every process."""
        s = self.state
        self._fold_loss()
        keys = sorted(s.extras)
        totals = [s.loss_sum, float(s.loss_count), *(s.extras[k] for k in keys)]
        if self.accelerator is not None and self.accelerator.num_processes > 1:
            summed = torch.tensor(totals, dtype=torch.float64, device=self.accelerator.device)
            totals = self.accelerator.reduce(summed, "sum").tolist()
        loss_sum, count, *extras = totals
        n = max(count, 1)
        if self.cfg.unit == "step":
            record = {"step": unit, "epoch": s.epoch, "train/loss": loss_sum / n,
                      "train/lr": float(self.optimizer.param_groups[0]["lr"])}
        else:
            record = {"epoch": unit, "train/loss": loss_sum / n}
        record.update({k: v / n for k, v in zip(keys, extras, strict=True)})
        s.loss_sum, s.loss_count, s.extras = 0.0, 0, {}
        return record

    def _fold_loss(self) -> None:
        """Move the on-device float64 loss sum into the state: one host sync per record or
        checkpoint instead of one per micro-batch."""
        if self._loss_acc is not None:
            self.state.loss_sum += float(self._loss_acc)
            self._loss_acc = None

    def _autocast(self):
        return self.accelerator.autocast() if self.accelerator else contextlib.nullcontext()

    def _backward(self, loss: torch.Tensor) -> None:
        if self.accelerator is not None:
            self.accelerator.backward(loss)
        else:
            loss.backward()

    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        self.model.eval()
        metrics = {k: float(v) for k, v in self.evaluate(self.model).items()}
        self.model.train()
        if self.cfg.monitor is not None and self.cfg.monitor not in metrics:
            raise KeyError(
                f"trainer.monitor={self.cfg.monitor!r} is not among the evaluated metrics "
                f"{sorted(metrics)}"
            )
        return metrics

    def _improved(self, metrics: Mapping[str, float], best: Mapping[str, float]) -> bool:
        monitor = self.cfg.monitor
        if monitor is None or not best:
            return True
        if self.cfg.mode == "max":
            return metrics[monitor] > best[monitor]
        return metrics[monitor] < best[monitor]

    def _save_progress(self) -> None:
        self._fold_loss()
        self._save({
            "finished": False,
            "state": dataclasses.asdict(self.state),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "best_state": self._best_state,
            "rng": rng_state(),
        })

    def _save(self, payload: dict[str, Any]) -> None:
        if not self.is_main:
            return
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint.with_suffix(".tmp")
        torch.save(payload, tmp)
        tmp.replace(self.checkpoint)

    def _load(self) -> dict[str, Any] | None:
        if self.checkpoint is None or not self.checkpoint.exists():
            return None
        loaded = torch.load(self.checkpoint, weights_only=True)
        if not loaded["finished"]:
            self.state = _State(**loaded["state"])
            self.model.load_state_dict(loaded["model"])
            self.optimizer.load_state_dict(loaded["optimizer"])
            if self.scheduler is not None and loaded["scheduler"] is not None:
                self.scheduler.load_state_dict(loaded["scheduler"])
            set_rng_state(loaded["rng"])
        return loaded


def _split_loss(out: Any) -> tuple[torch.Tensor, Mapping[str, Any]]:
    """A loss function's return value as (loss, logs): a tensor, a (tensor, logs) pair, or a
    model output carrying ``.loss`` (Hugging Face ``ModelOutput``)."""
    if isinstance(out, torch.Tensor):
        return out, {}
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping):
        return out[0], out[1]
    loss = getattr(out, "loss", None)
    if isinstance(loss, torch.Tensor):
        return loss, {}
    raise TypeError(f"loss_fn must return a tensor, (tensor, logs) or an output with .loss; "
                    f"got {type(out).__name__}")


def _clone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
