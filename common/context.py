"""The one object handed to every experiment: config, run folder, tracker, seed, device."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm

from common.seeding import derive_seed, seeded
from common.tracking import Tracker

T = TypeVar("T")


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class RunContext:
    """What an experiment function receives: ``run_<name>(ctx, **params) -> dict[str, float]``."""

    cfg: DictConfig
    run_dir: Path
    tracker: Tracker
    seed: int
    generator: torch.Generator
    device: torch.device
    cache_dir: Path
    resume: bool = False
    show_progress: bool = True
    extras: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def accelerator(self):
        """The process's single ``accelerate.Accelerator`` (mixed precision from the trainer)."""
        from accelerate import Accelerator

        mixed = self.cfg.get("trainer", {}).get("mixed_precision", "no")
        return Accelerator(cpu=self.device.type == "cpu", mixed_precision=mixed)

    def seed_for(self, stream: str, index: int = 0) -> int:
        """The seed of stream ``(stream, index)`` derived from the run's ``seed``
        (:func:`common.seeding.derive_seed`): ``init``, ``split``, ``client``, ``shuffle``,
        ``sampling``; papers draw from these instead of re-seeding global RNGs."""
        return derive_seed(self.seed, stream, index)

    def rng(self, stream: str, index: int = 0) -> torch.Generator:
        """A fresh ``torch.Generator`` seeded with :meth:`seed_for`."""
        return torch.Generator().manual_seed(self.seed_for(stream, index))

    def seeded(self, stream: str, index: int = 0):
        """A block with the global RNGs seeded from :meth:`seed_for` and restored afterwards
        (model initialisation and dropout, which draw from torch's global RNG)."""
        return seeded(self.seed_for(stream, index))

    def progress(self, iterable: Iterable[T], **kwargs: Any) -> Iterable[T]:
        """A tqdm progress bar over ``iterable`` that ``progress=false`` silences."""
        return tqdm(iterable, disable=not self.show_progress, dynamic_ncols=True, **kwargs)

    def path(self, *parts: str) -> Path:
        """A path inside the run folder, its parent created."""
        target = self.run_dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
