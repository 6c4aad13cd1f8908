import json

import pytest

from common.assets import AssetError, mirror_dir
from common.text.data import dataset_by_name, dataset_config

# config name -> mirror folder; every split the mirror holds is checked against SOURCE.json
DATASETS = {
    "sst2": "glue_sst2",
    "ag_news": "ag_news",
    "trec": "trec",
    "emo": "emo",
    "mrpc": "glue_mrpc",
    "rte": "glue_rte",
    "cola": "glue_cola",
    "qnli": "glue_qnli",
    "imdb": "imdb",
    "wikitext2": "wikitext-2-raw-v1",
    "reuters_modapte": "reuters21578_ModApte",
    "reuters_modhayes": "reuters21578_ModHayes",
}


def _source(folder: str) -> dict:
    root = mirror_dir()
    path = root / "text" / folder / "SOURCE.json" if root else None
    if path is None or not path.exists():
        pytest.skip(f"asset 'text/{folder}' is absent (REPRO_MIRROR)")
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", list(DATASETS))
def test_mirror_dataset_has_hub_schema_and_documented_rows(name):
    source = _source(DATASETS[name])
    data = dataset_by_name(name)
    assert dataset_config(name).mirror == f"text/{DATASETS[name]}"
    for split, info in source["splits"].items():
        ds = data.load(split)
        assert ds.num_rows == info["rows"], split
        assert repr(ds.features) == source["features"], split
        for field in data.text_fields:
            assert field in ds.column_names
        if data.label_field is not None:
            names = ds.features[data.label_field].names
            counts = {names[i]: n for i, n in enumerate(_bincount(ds[data.label_field]))}
            expected = info.get("label_dist") or info.get("coarse_label_dist")
            if expected is not None:
                nonzero = {k: v for k, v in expected.items() if v}
                assert {k: v for k, v in counts.items() if v} == nonzero, split


def _bincount(labels):
    counts = [0] * (max(labels) + 1)
    for label in labels:
        counts[label] += 1
    return counts


def test_label_order_is_the_hubs():
    _source("glue_sst2")
    assert dataset_by_name("sst2").label_names("validation") == ["negative", "positive"]
    assert dataset_by_name("ag_news").label_names("test") == [
        "World", "Sports", "Business", "Sci/Tech"]


def test_split_missing_offline_names_the_asset(monkeypatch):
    _source("ag_news")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AssetError, match=r"fancyzhx/ag_news \[train\]"):
        dataset_by_name("ag_news").load("train")


def test_mirror_unset_offline_names_the_asset(monkeypatch):
    monkeypatch.delenv("REPRO_MIRROR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AssetError, match="nyu-mll/glue/sst2"):
        dataset_by_name("sst2").load("validation")


def test_pair_and_icl_fields_from_config():
    assert dataset_by_name("rte").text_fields == ("sentence1", "sentence2")
    trec = dataset_by_name("trec")
    assert trec.label_field == "coarse_label"
    assert trec.icl.label_words[0] == "Abbreviation"


def test_seeded_subset_is_reproducible_and_whole_when_large():
    import datasets

    from common.text.data import seeded_subset

    ds = datasets.Dataset.from_dict({"x": list(range(10))})
    a, b = seeded_subset(ds, 4, seed=1), seeded_subset(ds, 4, seed=1)
    assert a["x"] == b["x"] and len(set(a["x"])) == 4
    assert seeded_subset(ds, None, 1) is ds and seeded_subset(ds, 10, 1) is ds
