"""Resolve datasets and models to local files: offline mirror, then the user's cache, then download.

The mirror (env ``REPRO_MIRROR``; tests and CI point it at ``../shared/data``) is read-only and
carries a ``SHA256SUMS`` manifest. The cache (env ``REPRO_CACHE``, default ``~/.cache/repro``) is
where anything is written. Downloads are refused when ``HF_HUB_OFFLINE=1``. Every failure raises
:class:`AssetError` naming the asset, the places searched, and how to get it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

MANIFEST = "SHA256SUMS"


class AssetError(FileNotFoundError):
    """A dataset or model could not be found locally (or is corrupt) and could not be fetched."""

    def __init__(self, asset: str, looked: list[str], how: str, problem: str = "not found"):
        self.asset = asset
        places = "\n".join(f"  - {p}" for p in looked) or "  - (nowhere: no mirror or cache set)"
        super().__init__(f"asset '{asset}' {problem}. Looked in:\n{places}\nTo fix: {how}")


def find_asset_error(err: BaseException | None) -> AssetError | None:
    """The :class:`AssetError` that ``err`` is or was raised from (hydra's ``instantiate`` wraps
    what its target raises in an ``InstantiationException``), else None."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, AssetError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def mirror_dir() -> Path | None:
    """The offline mirror root from ``REPRO_MIRROR``, or None when unset. A value naming no
    folder is warned about (once), not silently replaced by the cache."""
    root = os.environ.get("REPRO_MIRROR")
    if not root:
        return None
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        _warn_missing_mirror(str(path))
    return path


@cache
def _warn_missing_mirror(path: str) -> None:
    warnings.warn(f"REPRO_MIRROR={path} is not a folder: assets are looked up in the cache and "
                  "downloads only; point REPRO_MIRROR at the data mirror (../shared/data)",
                  stacklevel=3)


def cache_dir() -> Path:
    """The writable cache root (``REPRO_CACHE``, default ``~/.cache/repro``), created on demand."""
    root = Path(os.environ.get("REPRO_CACHE", "~/.cache/repro")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_path(*parts: str) -> Path:
    """A writable folder ``<cache>/<parts...>``, created on demand."""
    path = cache_dir().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def offline() -> bool:
    """True when downloads are forbidden (``HF_HUB_OFFLINE=1`` or ``REPRO_OFFLINE=1``)."""
    return any(os.environ.get(v, "0") not in ("", "0") for v in ("HF_HUB_OFFLINE", "REPRO_OFFLINE"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _sha256_of(path: Path, size: int, mtime: float) -> str:
    return sha256(path)


def file_sha256(path: Path) -> str:
    """sha256 of ``path``, memoised per (path, size, mtime) within the process."""
    stat = path.stat()
    return _sha256_of(path, stat.st_size, stat.st_mtime)


@cache
def _manifest(root: Path) -> dict[str, str]:
    """``SHA256SUMS`` of a mirror root as {relative path: digest}."""
    path = root / MANIFEST
    if not path.exists():
        return {}
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries[name.lstrip("*").removeprefix("./")] = digest
    return entries


def _verify(rel: str, file: Path, how: str) -> None:
    """Raise AssetError when ``file`` (the mirror's ``rel`` or a copy of it) differs from the
    mirror manifest's sha256 for ``rel``; files the manifest does not list pass."""
    root = mirror_dir()
    expected = _manifest(root).get(rel) if root is not None else None
    if expected is None:
        return
    actual = file_sha256(file)
    if actual != expected:
        raise AssetError(rel, [str(file)], how, f"sha256 {actual} != manifest {expected}")


def check_cached_copy(rel: str, copy: Path) -> None:
    """A cached copy of mirror file ``rel`` is checked exactly as the mirror file is (sha256
    against the manifest, memoised per file and mtime), so a corrupted cache is caught."""
    _verify(rel, copy, f"delete the cached copy {copy} (it is copied again from the mirror)")


def mirror_path(rel: str, *, how: str | None = None) -> Path:
    """The mirror folder or file ``rel``, verified against SHA256SUMS; AssetError when absent."""
    root = mirror_dir()
    if root is None or not (root / rel).exists():
        raise AssetError(
            rel,
            [str(root / rel)] if root else [],
            how or "set REPRO_MIRROR to a folder holding it (the repo's ../shared/data)",
        )
    path = root / rel
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        _verify(file.relative_to(root).as_posix(), file,
                "restore the mirror file (or unset REPRO_MIRROR)")
    return path


def resolve(
    asset: str,
    *,
    mirror_rel: str | None,
    cache_rel: str,
    download: Callable[[Path], None] | None,
    how: str,
) -> Path:
    """Find ``asset`` in the mirror, else the cache, else ``download`` it into the cache.

    ``download(target)`` must fill the folder ``target``; it is skipped (AssetError) when offline.
    """
    looked: list[str] = []
    if mirror_rel is not None and (root := mirror_dir()) is not None:
        looked.append(str(root / mirror_rel))
        if (root / mirror_rel).exists():
            return mirror_path(mirror_rel)
    cached = cache_dir() / cache_rel
    looked.append(str(cached))
    if cached.exists() and any(cached.iterdir()):
        return cached
    if download is None or offline():
        reason = "downloads are disabled (HF_HUB_OFFLINE=1)" if download else "no download known"
        raise AssetError(asset, looked, f"{how} ({reason})")
    tmp = cached.with_name(cached.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        download(tmp)
    except Exception as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AssetError(asset, looked, how, f"could not be downloaded ({err})") from err
    shutil.rmtree(cached, ignore_errors=True)
    tmp.rename(cached)
    return cached


def load_parquet_dataset(
    mirror_rel: str,
    split: str,
    *,
    hub_name: str,
    hub_config: str | None = None,
):
    """A ``datasets.Dataset`` for ``split``: ``<mirror>/<mirror_rel>/<split>.parquet`` if present,
    else ``datasets.load_dataset(hub_name, hub_config, split=split)`` (refused offline).

    The mirror's parquet files carry the hub's schema metadata, so both paths give the same
    columns, features and ClassLabel order.
    """
    import datasets

    root = mirror_dir()
    looked = []
    if root is not None:
        file = root / mirror_rel / f"{split}.parquet"
        looked.append(str(file))
        if file.exists():
            mirror_path(f"{mirror_rel}/{split}.parquet")
            return datasets.Dataset.from_parquet(
                str(file), cache_dir=str(cache_path("datasets"))
            )
    label = f"{hub_name}" + (f"/{hub_config}" if hub_config else "") + f" [{split}]"
    if offline():
        raise AssetError(
            label,
            looked + [f"the Hugging Face hub ({hub_name})"],
            "put the split's parquet into the mirror, or unset HF_HUB_OFFLINE to download it",
        )
    return datasets.load_dataset(hub_name, hub_config, split=split)
