"""GGUF checkpoints -> plain fp32 safetensors folders, cached by the GGUF's sha256.

transformers dequantises a GGUF on every load (~20 s for SmolLM2-135M, ~40 s for Gemma-3-270M on
2 CPU cores) and refuses ``save_pretrained`` on the result. The first load here dequantises once,
rebuilds a plain config without ``quantization_config``, and saves model + tokenizer to
``<cache>/text/gguf-fp32/<name>-<sha256[:16]>``; later loads read that folder in seconds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from common.assets import cache_path, file_sha256

CONVERTED = "SOURCE.json"


def converted_dir(name: str, digest: str) -> Path:
    """Where the fp32 conversion of the GGUF with sha256 ``digest`` lives (may not exist yet)."""
    return cache_path("text", "gguf-fp32") / f"{name}-{digest[:16]}"


def is_converted(folder: Path) -> bool:
    return (folder / CONVERTED).exists()


def convert_gguf(gguf: Path, name: str, digest: str | None = None) -> Path:
    """The cached fp32 safetensors folder (config, weights, tokenizer) of the GGUF ``gguf``."""
    digest = digest or file_sha256(gguf)
    target = converted_dir(name, digest)
    if is_converted(target):
        return target
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    settings = quantised.config.to_dict()
    settings.pop("quantization_config", None)
    settings.pop("_name_or_path", None)
    model_type = settings.pop("model_type")
    config = AutoConfig.for_model(model_type, **settings)
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantised.state_dict())
    del quantised
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    record = {"gguf": gguf.name, "sha256": digest, "dtype": "float32"}
    (tmp / CONVERTED).write_text(json.dumps(record, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target
