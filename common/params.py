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
from omegaconf.errors import (
    MissingMandatoryValue,
    ReadonlyConfigError,
    ValidationError,
)

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
    _check_keys(cls, values, prefix)
    schema = OmegaConf.structured(cls)
    try:
        merged = OmegaConf.merge(schema, dict(values))
        return OmegaConf.to_object(merged)
    except MissingMandatoryValue as err:
        path = f"{prefix}.{err.full_key}"
        raise ConfigError(path, "is required and has no default", f"set {path}=...") from None
    except ValidationError as err:
        path = f"{prefix}.{err.full_key}"
        kind = _type_name(_field_type(cls, str(err.full_key)))
        raise ConfigError(path, f"{getattr(err, 'value', None)!r} is not a valid {kind}",
                          f"give {path}=<{kind}>") from None
    except ReadonlyConfigError as err:
        raise TypeError(f"{cls.__name__}: task dataclasses must not be frozen (OmegaConf cannot "
                        f"merge into them): {err}") from None
    except ConfigError as err:
        if not err.key.startswith(f"{prefix}."):
            err = ConfigError(f"{prefix}.{err.key}", err.problem, err.fix)
        raise err from None


def _check_keys(cls: type, values: Any, path: str) -> None:
    """Unknown keys anywhere in ``values`` (nested dataclasses, lists of them), each named by its
    full path with the nearest known key as the fix."""
    if not isinstance(values, Mapping):
        return
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if key not in hints:
            guess = nearest(str(key), hints)
            fix = f"did you mean {path}.{guess}?" if guess else f"known keys: {sorted(hints)}"
            raise ConfigError(f"{path}.{key}", "unknown key", fix)
        kind = hints[key]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        inner = kind if dataclasses.is_dataclass(kind) else (args[0] if len(args) == 1 else None)
        if inner is not None and dataclasses.is_dataclass(inner):
            if isinstance(value, Mapping):
                _check_keys(inner, value, f"{path}.{key}")
            elif isinstance(value, list | tuple):
                for i, item in enumerate(value):
                    _check_keys(inner, item, f"{path}.{key}[{i}]")


def _field_type(cls: type, dotted: str) -> Any:
    """The declared type of field ``a.b.c`` of dataclass ``cls`` (None if unknown)."""
    current: Any = cls
    for part in [p for p in dotted.split(".") if p]:
        if not (inspect.isclass(current) and dataclasses.is_dataclass(current)):
            return None
        current = typing.get_type_hints(current).get(part)
    return current


def _type_name(kind: Any) -> str:
    if kind is None:
        return "value"
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
