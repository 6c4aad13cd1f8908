"""Image datasets as uint8 tensors, decoded once from the mirror's parquet files and cached.

The mirror's CIFAR-10 (``cifar10/{train,test}.parquet``, hub layout ``img``/``label``) stores
every image as a JPEG, so pixels differ slightly from the original lossless CIFAR-10. Decoding
60,000 JPEGs takes a few seconds; the decoded tensors are cached as ``.pt`` files under
``<cache>/vision/<name>``, keyed by the parquet file's sha256 from the mirror manifest.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common import assets

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)


@dataclass
class ImageData:
    """A labelled train/test pair of uint8 image tensors (N, C, H, W) and int64 labels."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> float, scaled to [0, 1] then standardised per channel."""
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x.float() / 255.0 - mean) / std


def decode_parquet_images(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode a hub-layout parquet file (``img`` {bytes, path}, ``label``) into tensors."""
    import pyarrow.parquet as pq
    from PIL import Image

    table = pq.read_table(path, columns=["img", "label"])
    images = table.column("img").to_pylist()
    labels = torch.tensor(table.column("label").to_pylist(), dtype=torch.int64)
    arrays = [np.asarray(Image.open(io.BytesIO(im["bytes"])).convert("RGB")) for im in images]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return x, labels


def _manifest_digest(rel: str) -> str:
    root = assets.mirror_dir()
    sums = root / assets.MANIFEST if root else None
    if sums and sums.exists():
        for line in sums.read_text().splitlines():
            digest, _, name = line.partition(" ")
            if name.strip().lstrip("*").removeprefix("./") == rel:
                return digest[:16]
    return "nomanifest"


def load_parquet_split(name: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``<mirror>/<name>/<split>.parquet`` decoded to (uint8 images, labels), cached once."""
    rel = f"{name}/{split}.parquet"
    digest = _manifest_digest(rel)
    cached = assets.cache_path("vision", name) / f"{split}-{digest}.pt"
    if cached.exists():
        blob = torch.load(cached, weights_only=True)
        return blob["x"], blob["y"]
    path = assets.mirror_path(
        rel, how=f"put {name}/{{train,test}}.parquet (hub layout img/label) in REPRO_MIRROR"
    )
    x, y = decode_parquet_images(path)
    tmp = cached.with_suffix(".partial")
    torch.save({"x": x, "y": y}, tmp)
    tmp.rename(cached)
    return x, y


def load_image_dataset(name: str = "cifar10") -> ImageData:
    """The named dataset (``cifar10`` from the offline mirror) as :class:`ImageData`."""
    if name != "cifar10":
        raise assets.AssetError(
            name,
            [f"{assets.mirror_dir()}/{name}"],
            "only cifar10 is in the offline mirror; add <name>/{train,test}.parquet "
            "(hub layout img/label) to REPRO_MIRROR to use another image dataset",
        )
    train_x, train_y = load_parquet_split(name, "train")
    test_x, test_y = load_parquet_split(name, "test")
    return ImageData(name, train_x, train_y, test_x, test_y, 10, CIFAR10_MEAN, CIFAR10_STD)


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Batched RandomCrop(H, padding) + RandomHorizontalFlip with one generator (deterministic)."""
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = (dy.view(n, 1) + torch.arange(h).view(1, h)).view(n, 1, h, 1)
    cols = dx.view(n, 1) + torch.arange(w).view(1, w)
    cols = torch.where(flip.view(n, 1), cols.flip(1), cols).view(n, 1, 1, w)
    batch = torch.arange(n).view(n, 1, 1, 1)
    chan = torch.arange(x.shape[1]).view(1, -1, 1, 1)
    return padded[batch, chan, rows, cols]
