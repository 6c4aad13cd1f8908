"""Typed experiment parameters: ``task:`` arrives as a validated dataclass, not a dict.

An experiment declares ``def run_x(ctx: RunContext, task: XTask) -> dict[str, float]`` with
``XTask`` a dataclass; :func:`build_params` turns the composed ``task`` node into it, so a typo'd
key, a wrong type or a value outside its allowed set fails before any work with one line that
names the key and says how to fix it (:class:`ConfigError`).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

T = TypeVar("T")


class ConfigError(ValueError):
    """A bad config value: ``<key>: <what is wrong>; <how to fix>``."""

    def __init__(self, key: str, problem: str, fix: str = ""):
        self.key, self.problem, self.fix = key, problem, fix
        super().__init__(f"{key}: {problem}" + (f"; {fix}" if fix else ""))


def nearest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name`` (difflib), or None when none is close."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def check_choice(key: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(key, f"{value!r} is not allowed", f"use one of {allowed}")


def check_positive(key: str, value: float | None, *, allow_zero: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is > 0 (>= 0 with ``allow_zero``)."""
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(key, f"must be {bound}, got {value}", f"set {key}=<a value {bound}>")


def params_type(fn: Callable[..., Any]) -> type | None:
    """The dataclass type of ``fn``'s second parameter (after ``ctx``), if it has one."""
    params = list(inspect.signature(fn).parameters.values())
    if len(params) != 2:
        return None
    hints = typing.get_type_hints(fn)
    cls = hints.get(params[1].name)
    return cls if inspect.isclass(cls) and dataclasses.is_dataclass(cls) else None


def build_params(cls: type[T], values: Mapping[str, Any], prefix: str = "task") -> T:
    """``cls`` built from ``values`` with OmegaConf's type checks; errors become one
    :class:`ConfigError` naming ``<prefix>.<key>`` (and the nearest known key for a typo)."""
    schema = OmegaConf.structured(cls)
    try:
        merged = OmegaConf.merge(schema, dict(values))
        return OmegaConf.to_object(merged)
    except ConfigKeyError as err:
        key = str(err.key) if getattr(err, "key", None) is not None else "?"
        path = f"{prefix}.{err.full_key}" if getattr(err, "full_key", None) else f"{prefix}.{key}"
        node = OmegaConf.select(schema, str(err.full_key).rpartition(".")[0]) if "." in str(
            err.full_key or "") else schema
        known = list(node.keys()) if node is not None else []
        guess = nearest(key, known)
        fix = f"did you mean {prefix}.{guess}?" if guess else f"known keys: {sorted(known)}"
        raise ConfigError(path, "unknown key", fix) from None
    except ValidationError as err:
        path = f"{prefix}.{err.full_key}"
        raise ConfigError(path, f"got {err.value!r}, which is not a valid {_type_name(err)}",
                          f"give {path}=<{_type_name(err)}>") from None
    except ConfigError as err:
        if not err.key.startswith(f"{prefix}."):
            err = ConfigError(f"{prefix}.{err.key}", err.problem, err.fix)
        raise err from None


def _type_name(err: ValidationError) -> str:
    node_type = getattr(err, "ref_type", None) or getattr(err, "object_type", None)
    if node_type is None:
        return "value"
    return getattr(node_type, "__name__", str(node_type)).replace("typing.", "")
