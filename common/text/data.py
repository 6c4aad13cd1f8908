"""Text datasets by config: the offline mirror's parquet files (hub schema), else the hub.

``instantiate(cfg.data)`` gives a :class:`TextDataset`; ``.load(split)`` returns the same
``datasets.Dataset`` (columns, features, ClassLabel order) as ``load_dataset(hub_name,
hub_config, split=split)`` does on a user's machine, so experiment code never branches on where
the data came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
from hydra.utils import instantiate
from omegaconf import OmegaConf

from common.assets import load_parquet_dataset
from common.text.prompts import ICLTemplate

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "data"


@dataclass
class TextDataset:
    """One text dataset: where it lives and which columns a classifier or a prompt reads.

    ``text_fields`` are one column (single sentence) or two (sentence pair); ``label_field`` is
    the ClassLabel column (``None`` for unlabelled corpora such as wikitext).
    """

    name: str
    hub_name: str
    mirror: str | None = None
    hub_config: str | None = None
    text_fields: Sequence[str] = ("text",)
    label_field: str | None = "label"
    icl: ICLTemplate | None = None

    def __post_init__(self) -> None:
        self.text_fields = tuple(self.text_fields)
        if not 1 <= len(self.text_fields) <= 2:
            raise ValueError(f"{self.name}: text_fields must name 1 or 2 columns")

    def load(self, split: str) -> datasets.Dataset:
        """The split ``split`` from the mirror (``<mirror>/<split>.parquet``), else the hub."""
        return load_parquet_dataset(
            self.mirror or f"text/{self.name}",
            split,
            hub_name=self.hub_name,
            hub_config=self.hub_config,
        )

    def label_names(self, split: str) -> list[str]:
        """The ClassLabel names of ``label_field`` in label-id order."""
        if self.label_field is None:
            raise ValueError(f"{self.name} has no label column")
        return list(self.load(split).features[self.label_field].names)


def dataset_config(name: str):
    """The data config ``configs/data/<name>.yaml`` (for code outside a Hydra run)."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise KeyError(f"no data config '{name}' in {CONFIG_DIR}; known: {known}")
    return OmegaConf.load(path)


def dataset_by_name(name: str) -> TextDataset:
    """``instantiate`` the data config ``name``."""
    return instantiate(dataset_config(name))


def seeded_subset(ds: datasets.Dataset, size: int | None, seed: int) -> datasets.Dataset:
    """``size`` rows drawn with ``seed`` (all rows, in order, when ``size`` is None or larger)."""
    if size is None or size >= ds.num_rows:
        return ds
    return ds.shuffle(seed=seed).select(range(size))
