"""One seed for python, numpy, torch and the data splits, so a CPU run is bit-reproducible."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed every RNG the runs touch and return a ``torch.Generator`` seeded with ``seed``.

    With ``deterministic`` torch is asked for deterministic kernels (warning, not failing, where
    an op has none), which is what makes two CPU runs of one config give identical metrics.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)
