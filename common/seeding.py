"""Seeds as a contract: one ``seed`` per run, independent named streams derived from it, and
scoped re-seeding that never leaks into the rest of the run.

- :func:`seed_everything` seeds python, numpy and torch once, at the start of a run.
- :func:`derive_seed` gives the seed of stream ``(name, index)`` (``init``, ``split``, ``client``,
  ``shuffle``, ``sampling``, ...) from the run seed with numpy's ``SeedSequence``, so streams are
  statistically independent and adding one does not shift another.
- :func:`seeded` runs a block with every global RNG seeded and restores the previous states
  afterwards: papers use it (never a bare ``torch.manual_seed``) where a model's initial weights
  or dropout masks must come from a known seed.
"""

from __future__ import annotations

import os
import random
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

STREAMS = ("init", "split", "client", "shuffle", "sampling", "data")
"""The stream names the papers use; any other name works too (documented here for readers)."""


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed every RNG the runs touch and return a ``torch.Generator`` seeded with ``seed``.

    With ``deterministic`` torch is asked for deterministic kernels (warning, not failing, where
    an op has none), which is what makes two CPU runs of one config give identical metrics.
    """
    _seed_globals(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)


def derive_seed(seed: int, stream: str, index: int = 0) -> int:
    """The 63-bit seed of ``(stream, index)`` under run seed ``seed``:
    ``SeedSequence([seed, crc32(stream), index])``; stable across processes and versions."""
    if seed < 0 or index < 0:
        raise ValueError(f"seeds and stream indices must be >= 0, got seed={seed} index={index}")
    entropy = [int(seed), zlib.crc32(stream.encode()), int(index)]
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


def _seed_globals(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with python, numpy and torch (CPU and CUDA) seeded with ``seed``; the
    previous RNG states come back afterwards, so the block's draws do not shift anything else."""
    py, npy = random.getstate(), np.random.get_state()
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    _seed_globals(seed)
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def rng_state() -> dict:
    """Every global RNG state in types ``torch.load(weights_only=True)`` accepts."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` saved."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
