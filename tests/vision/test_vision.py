"""The shared vision zoo and the CIFAR parquet decoding."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from common.vision.data import decode_parquet_images, load_image_dataset, random_crop_flip
from common.vision.models import CifarResNet, SmallCNN


def test_resnet_shapes_and_feature_dims():
    x = torch.randn(2, 3, 32, 32)
    r8 = CifarResNet(10, depth=8, width=4)
    assert r8.feature_dim == 256 and r8(x).shape == (2, 10)
    assert r8.features(x).shape == (2, 256)
    r56 = CifarResNet(10, depth=56, width=1)
    assert r56.feature_dim == 256 and len(r56.layers) == 18
    small = SmallCNN(10)
    assert small(x).shape == (2, 10)
    torch.testing.assert_close(small(x), small.classifier(small.features(x)))
    with pytest.raises(ValueError):
        CifarResNet(10, depth=9)


def test_random_crop_flip_matches_a_loop():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.uint8).view(2, 3, 5, 5)
    g = torch.Generator().manual_seed(0)
    out = random_crop_flip(x, g, padding=2)
    g = torch.Generator().manual_seed(0)
    dy = torch.randint(0, 5, (2,), generator=g)
    dx = torch.randint(0, 5, (2,), generator=g)
    flip = torch.rand(2, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        ref = padded[i, :, dy[i] : dy[i] + 5, dx[i] : dx[i] + 5]
        ref = ref.flip(-1) if flip[i] else ref
        assert torch.equal(out[i], ref)


def test_decode_parquet_images(tmp_path):
    rng = np.random.default_rng(0)
    pics = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    blobs = []
    for p in pics:
        buf = io.BytesIO()
        Image.fromarray(p).save(buf, format="PNG")
        blobs.append({"bytes": buf.getvalue(), "path": None})
    pq.write_table(pa.table({"img": blobs, "label": [3, 1, 4]}), tmp_path / "t.parquet")
    x, y = decode_parquet_images(tmp_path / "t.parquet")
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.uint8
    assert y.tolist() == [3, 1, 4]
    assert torch.equal(x[1], torch.from_numpy(pics[1]).permute(2, 0, 1))


def test_cifar10_from_mirror():
    from common.assets import AssetError

    try:
        data = load_image_dataset("cifar10")
    except AssetError as err:
        pytest.skip(f"cifar10 not in the mirror: {err}")
    assert data.train_x.shape == (50000, 3, 32, 32) and data.test_x.shape == (10000, 3, 32, 32)
    assert torch.bincount(data.train_y).tolist() == [5000] * 10
