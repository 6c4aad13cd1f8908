"""Asset resolution order, checksum verification, and errors that say how to fix them."""

from __future__ import annotations

import hashlib

import pytest

from common import assets


@pytest.fixture
def fake_mirror(tmp_path, monkeypatch):
    root = tmp_path / "mirror"
    (root / "toy").mkdir(parents=True)
    (root / "toy" / "a.txt").write_text("hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    (root / "SHA256SUMS").write_text(f"{digest}  ./toy/a.txt\n")
    monkeypatch.setenv("REPRO_MIRROR", str(root))
    monkeypatch.setenv("REPRO_CACHE", str(tmp_path / "cache"))
    assets._manifest.cache_clear()
    return root


def test_mirror_first_then_cache_then_download(fake_mirror, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    got = assets.resolve("toy", mirror_rel="toy", cache_rel="toy", download=None, how="-")
    assert got == fake_mirror / "toy"
    calls = []
    fetched = assets.resolve(
        "other", mirror_rel="other", cache_rel="other",
        download=lambda d: calls.append((d / "f").write_text("x")), how="-",
    )
    assert fetched == assets.cache_dir() / "other" and len(calls) == 1
    again = assets.resolve("other", mirror_rel="other", cache_rel="other",
                           download=lambda d: calls.append(1), how="-")
    assert again == fetched and len(calls) == 1


def test_offline_refuses_download_and_names_the_asset(fake_mirror, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(assets.AssetError) as err:
        assets.resolve("gpt2-xl", mirror_rel="models/gpt2-xl", cache_rel="models/gpt2-xl",
                       download=lambda d: None, how="run with network once")
    text = str(err.value)
    assert "gpt2-xl" in text and "run with network once" in text and "HF_HUB_OFFLINE" in text
    assert str(fake_mirror / "models/gpt2-xl") in text


def test_corrupt_mirror_file_is_refused(fake_mirror):
    assert assets.mirror_path("toy") == fake_mirror / "toy"
    (fake_mirror / "toy" / "a.txt").write_text("HELLO")
    with pytest.raises(assets.AssetError, match="sha256"):
        assets.mirror_path("toy")


def test_corrupt_cached_copy_is_caught_like_a_corrupt_mirror_file(fake_mirror, tmp_path):
    copy = tmp_path / "cache" / "a.txt"
    copy.parent.mkdir(parents=True)
    copy.write_text("hello")
    assets.check_cached_copy("toy/a.txt", copy)
    copy.write_text("hellO")
    with pytest.raises(assets.AssetError, match=r"sha256 \w+ != manifest") as err:
        assets.check_cached_copy("toy/a.txt", copy)
    assert str(copy) in str(err.value) and "copied again from the mirror" in str(err.value)


def test_cora_cache_copy_is_checked(mirror_asset, tmp_path, monkeypatch):
    from common.graph.data import load_planetoid

    mirror_asset("planetoid/Cora/raw")
    monkeypatch.setenv("REPRO_CACHE", str(tmp_path / "cache"))
    load_planetoid("cora")
    allx = tmp_path / "cache" / "pyg" / "planetoid" / "Cora" / "raw" / "ind.cora.allx"
    data = bytearray(allx.read_bytes())
    data[100] ^= 0xFF
    allx.write_bytes(bytes(data))
    with pytest.raises(assets.AssetError, match="ind.cora.allx"):
        load_planetoid("cora")


def test_missing_mirror_folder_is_a_warning_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_MIRROR", str(tmp_path / "nowhere"))
    assets._warn_missing_mirror.cache_clear()
    with pytest.warns(UserWarning, match="nowhere"):
        assets.mirror_dir()


def test_missing_mirror_entry(fake_mirror):
    with pytest.raises(assets.AssetError, match="planetoid/Nope"):
        assets.mirror_path("planetoid/Nope")


def test_parquet_dataset_offline_error(fake_mirror, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(assets.AssetError, match="nyu-mll/glue/sst2"):
        assets.load_parquet_dataset("text/none", "train", hub_name="nyu-mll/glue",
                                    hub_config="sst2")


def test_real_mirror_checksums(mirror_asset):
    mirror_asset("planetoid/Cora/raw")
    assets._manifest.cache_clear()
    assert (assets.mirror_path("planetoid/Cora/raw") / "ind.cora.x").exists()
