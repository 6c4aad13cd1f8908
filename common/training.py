"""The one supervised training loop every paper that trains uses (graphs, images, text).

Full-batch graph training passes ``train_data=[data]``; mini-batch training passes a DataLoader.
The loop owns epochs, gradient accumulation and mixed precision (through accelerate), evaluation
every ``eval_every`` epochs, early stopping on a named metric, best-state restore, resumable
checkpoints and the progress bar; the paper owns the model, the loss and the evaluation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from common.tracking import Tracker

if TYPE_CHECKING:
    from common.context import RunContext

LossOutput = torch.Tensor | tuple[torch.Tensor, Mapping[str, Any]]
LossFn = Callable[[torch.nn.Module, Any], LossOutput]
EvalFn = Callable[[torch.nn.Module], Mapping[str, float]]


@dataclass
class TrainerConfig:
    """Loop settings; ``configs/trainer/default.yaml`` holds the defaults a run starts from."""

    max_epochs: int = 100
    eval_every: int = 1
    monitor: str | None = None
    mode: str = "max"
    patience: int | None = None
    min_epochs: int = 0
    grad_accum: int = 1
    grad_clip: float | None = None
    mixed_precision: str = "no"
    restore_best: bool = True
    checkpoint_every: int = 10
    log: bool = True
    log_prefix: str = ""
    progress: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"trainer.mode must be 'max' or 'min', got {self.mode!r}")
        if self.max_epochs < 1 or self.eval_every < 1 or self.grad_accum < 1:
            raise ValueError("trainer.max_epochs, eval_every and grad_accum must be >= 1")
        if self.patience is not None and self.monitor is None:
            raise ValueError("trainer.patience needs trainer.monitor (the metric to watch)")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainerConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown trainer option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


@dataclass
class FitResult:
    """What ``Trainer.fit`` returns: the metrics of the best evaluation and the whole history."""

    best_metrics: dict[str, float]
    best_epoch: int
    epochs: int
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False


class Trainer:
    """Epoch loop with early stopping, best-state restore and resumable checkpoints."""

    def __init__(
        self,
        cfg: TrainerConfig,
        *,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: LossFn,
        train_data: Iterable[Any],
        evaluate: EvalFn | None = None,
        scheduler: Any | None = None,
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
        self.scheduler = scheduler
        self.tracker = tracker
        self.accelerator = accelerator
        self.optimizer = accelerator.prepare_optimizer(optimizer) if accelerator else optimizer
        self.name = name
        self.resume = resume
        safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)
        self.checkpoint = checkpoint_dir / f"{safe}.pt" if checkpoint_dir else None

    @classmethod
    def from_context(cls, ctx: RunContext, *, name: str, **kwargs: Any) -> Trainer:
        """A trainer configured from ``ctx.cfg.trainer``; keyword arguments that are
        ``TrainerConfig`` fields override it, the rest go to the constructor."""
        fields = {f.name for f in dataclasses.fields(TrainerConfig)}
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        base = OmegaConf.to_container(ctx.cfg.get("trainer", {}), resolve=True)
        cfg = TrainerConfig.from_mapping({**base, **overrides})
        cfg.progress = cfg.progress and ctx.show_progress
        return cls(
            cfg,
            tracker=ctx.tracker,
            accelerator=ctx.accelerator,
            checkpoint_dir=ctx.run_dir / "checkpoints",
            name=name,
            resume=ctx.resume,
            **kwargs,
        )

    def fit(self) -> FitResult:
        """Train up to ``max_epochs``; return the best evaluation (the model holds its state)."""
        cfg = self.cfg
        state = self._load() if self.resume else None
        if state is not None and state["finished"]:
            self.model.load_state_dict(state["model"])
            return FitResult(**state["result"])
        start = state["epoch"] + 1 if state else 1
        history: list[dict[str, float]] = state["history"] if state else []
        best_metrics: dict[str, float] = state["best_metrics"] if state else {}
        best_epoch: int = state["best_epoch"] if state else 0
        best_state = state["best_state"] if state else None
        bad_evals: int = state["bad_evals"] if state else 0
        stopped_early = False
        epoch = start - 1
        bar = tqdm(
            range(start, cfg.max_epochs + 1),
            desc=self.name,
            disable=not cfg.progress,
            dynamic_ncols=True,
            leave=False,
        )
        for epoch in bar:
            record = {"epoch": epoch, **self._train_epoch()}
            if self.scheduler is not None:
                self.scheduler.step()
            if self.evaluate is not None and (
                epoch % cfg.eval_every == 0 or epoch == cfg.max_epochs
            ):
                metrics = self._evaluate()
                record.update(metrics)
                if self._improved(metrics, best_metrics):
                    best_metrics, best_epoch, bad_evals = dict(metrics), epoch, 0
                    if cfg.restore_best:
                        best_state = _clone_state(self.model)
                else:
                    bad_evals += 1
                if cfg.monitor is not None:
                    bar.set_postfix({cfg.monitor: f"{metrics[cfg.monitor]:.4f}"}, refresh=False)
            history.append(record)
            if cfg.log and self.tracker is not None:
                prefix = cfg.log_prefix
                self.tracker.log({f"{prefix}{k}": v for k, v in record.items()}, step=epoch)
            if (
                cfg.patience is not None
                and epoch >= cfg.min_epochs
                and bad_evals >= cfg.patience
            ):
                stopped_early = True
                break
            if self.checkpoint and cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
                self._save(epoch, history, best_metrics, best_epoch, best_state, bad_evals)
        bar.close()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        result = FitResult(
            best_metrics=best_metrics or (self._evaluate() if self.evaluate else {}),
            best_epoch=best_epoch or epoch,
            epochs=epoch,
            history=history,
            stopped_early=stopped_early,
        )
        if self.checkpoint and cfg.checkpoint_every:
            self._save_finished(result)
        return result

    def _train_epoch(self) -> dict[str, float]:
        cfg = self.cfg
        self.model.train()
        total = torch.zeros(())
        extras: dict[str, float] = {}
        batches = 0
        pending = False
        data = self.train_data
        sized = hasattr(data, "__len__")
        if cfg.progress and sized and len(data) > 1:
            data = tqdm(data, desc="batches", leave=False, dynamic_ncols=True)
        for batches, batch in enumerate(data, start=1):
            with self._autocast():
                out = self.loss_fn(self.model, batch)
            loss, logs = out if isinstance(out, tuple) else (out, {})
            self._backward(loss / cfg.grad_accum)
            pending = True
            total = total + loss.detach().float().cpu()
            for k, v in logs.items():
                extras[k] = extras.get(k, 0.0) + float(v)
            if batches % cfg.grad_accum == 0:
                self._step()
                pending = False
        if pending:
            self._step()
        if batches == 0:
            raise ValueError(f"trainer '{self.name}': train_data yielded no batch")
        return {"train/loss": float(total) / batches, **{k: v / batches for k, v in extras.items()}}

    def _autocast(self):
        return self.accelerator.autocast() if self.accelerator else contextlib.nullcontext()

    def _backward(self, loss: torch.Tensor) -> None:
        if self.accelerator is not None:
            self.accelerator.backward(loss)
        else:
            loss.backward()

    def _step(self) -> None:
        if self.cfg.grad_clip is not None:
            params = self.model.parameters()
            if self.accelerator is not None:
                self.accelerator.clip_grad_norm_(params, self.cfg.grad_clip)
            else:
                torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

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

    def _save(self, epoch, history, best_metrics, best_epoch, best_state, bad_evals) -> None:
        payload = {
            "finished": False,
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "history": history,
            "best_metrics": best_metrics,
            "best_epoch": best_epoch,
            "best_state": best_state,
            "bad_evals": bad_evals,
            "rng": _rng_state(),
        }
        _atomic_save(payload, self.checkpoint)

    def _save_finished(self, result: FitResult) -> None:
        payload = {
            "finished": True,
            "model": self.model.state_dict(),
            "result": dataclasses.asdict(result),
        }
        _atomic_save(payload, self.checkpoint)

    def _load(self) -> dict[str, Any] | None:
        if self.checkpoint is None or not self.checkpoint.exists():
            return None
        state = torch.load(self.checkpoint, weights_only=False)
        if not state["finished"]:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state["scheduler"] is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            _set_rng_state(state["rng"])
        return state


def _clone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _atomic_save(payload: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _rng_state() -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def _set_rng_state(state: Mapping[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
