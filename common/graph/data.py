"""Graph datasets by name, through the asset layer.

Planetoid graphs (Cora, CiteSeer, PubMed) come from the offline mirror's ``planetoid/<Name>/raw``
when it holds them, copied into the writable cache because PyG writes ``processed/`` beside
``raw/``; otherwise PyG downloads them into the cache (refused offline). Amazon and Coauthor
graphs always download.
"""

from __future__ import annotations

import shutil

import torch
from torch_geometric.data import Data

from common.assets import (
    AssetError,
    cache_path,
    check_cached_copy,
    mirror_dir,
    mirror_path,
    offline,
)

PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
AMAZON = {"amazon_photo": "Photo", "amazon_computers": "Computers"}
COAUTHOR = {"coauthor_cs": "CS", "coauthor_physics": "Physics"}
GRAPHS = (*PLANETOID, *AMAZON, *COAUTHOR, "reddit")


def _canonical(name: str) -> str:
    key = name.lower().replace("-", "_")
    if key not in GRAPHS:
        raise ValueError(f"unknown graph dataset {name!r}; known: {list(GRAPHS)}")
    return key


def load_planetoid(name: str, split: str = "public") -> Data:
    """Cora / CiteSeer / PubMed as one PyG ``Data`` with the Planetoid ``split`` masks."""
    from torch_geometric.datasets import Planetoid

    pyg_name = PLANETOID[_canonical(name)]
    root = cache_path("pyg", "planetoid")
    raw = root / pyg_name / "raw"
    rel = f"planetoid/{pyg_name}/raw"
    mirror = mirror_dir()
    if mirror is not None and (mirror / rel).exists():
        source = mirror_path(rel)
        raw.mkdir(parents=True, exist_ok=True)
        for file in source.iterdir():
            target = raw / file.name
            if not target.exists():
                shutil.copyfile(file, target)
            check_cached_copy(f"{rel}/{file.name}", target)
    elif not raw.exists() and offline():
        raise AssetError(
            pyg_name,
            [str(mirror / rel) if mirror else "REPRO_MIRROR (unset)", str(raw)],
            "set REPRO_MIRROR to the data mirror (../shared/data) or unset HF_HUB_OFFLINE "
            "so PyG can download it",
        )
    return Planetoid(str(root), pyg_name, split=split)[0]


def row_normalize(x: torch.Tensor) -> torch.Tensor:
    """Each node's features divided by their sum, all-zero rows left at zero: the preprocessing
    of Kipf & Welling (2017, Sec. 5.1 / reference ``preprocess_features``), PyG's
    ``NormalizeFeatures``."""
    return x / x.sum(dim=1, keepdim=True).clamp(min=torch.finfo(x.dtype).tiny)


def load_graph(name: str, split: str = "public", normalize_features: bool = False) -> Data:
    """Any graph of :data:`GRAPHS` by name, downloaded by PyG into the cache unless it is
    Planetoid in the mirror. Only Planetoid graphs come with split masks (Reddit has its own).
    ``normalize_features``: rows of ``x`` divided by their sum (:func:`row_normalize`)."""
    data = _load(_canonical(name), split)
    if normalize_features:
        data.x = row_normalize(data.x)
    return data


def _load(key: str, split: str) -> Data:
    if key in PLANETOID:
        return load_planetoid(key, split)
    from torch_geometric.datasets import Amazon, Coauthor, Reddit

    if key == "reddit":
        root = cache_path("pyg", "reddit")
        raw, make = root / "raw", lambda: Reddit(str(root))
    else:
        family, table = (Amazon, AMAZON) if key in AMAZON else (Coauthor, COAUTHOR)
        root = cache_path("pyg", family.__name__.lower())
        raw, make = root / table[key].lower() / "raw", lambda: family(str(root), table[key])
    if offline() and not raw.exists():
        raise AssetError(key, [str(raw)], "unset HF_HUB_OFFLINE so PyG can download it")
    return make()[0]


def num_classes(data: Data) -> int:
    return int(data.y.max()) + 1


def to_undirected_unique(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Symmetric, self-loop-free, duplicate-free edge list (the form graph edits start from)."""
    from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

    edge_index, _ = remove_self_loops(edge_index)
    return coalesce(to_undirected(edge_index, num_nodes=num_nodes), num_nodes=num_nodes)
