"""Typed configuration: pydantic models loaded from YAML (safe_load only) and overridden by CLI flags.

Every configurable command resolves its settings the same way (:func:`resolve`): the model's defaults,
then a preset the command chooses (if any), then the YAML file of ``--config`` (if given), then the flags
the user actually gave. A flag that was not given is ``None`` and never overrides the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from hephaestus.platform.errors import InputError, InputNotFoundError
from hephaestus.platform.storage import read_bytes, redact

T = TypeVar("T", bound="Config")


class ConfigError(InputError):
    """A configuration file or flag is invalid: names the file and the field."""


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `update` on top; nested mappings merge key by key (a YAML `base: {epochs: 3}`
    changes one field of a preset's nested config, not the whole of it)."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def given(flags: Mapping[str, Any]) -> dict[str, Any]:
    """The flags the user gave: CLI options default to None, meaning "not given"."""
    return {k: v for k, v in flags.items() if v is not None}


def read_yaml(url: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML mapping from any storage URL (safe_load: no Python objects are built from the file)."""
    name = redact(os.fspath(url))
    try:
        text = read_bytes(os.fspath(url)).decode()
    except FileNotFoundError:
        raise InputNotFoundError(f"{name}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: is a folder, not a YAML configuration file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not a text (YAML) file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "value"
        got = "" if err["type"] == "missing" else f" (got {err.get('input')!r})"
        parts.append(f"{where}: {err['msg']}{got}")
    return "; ".join(parts)


@contextmanager
def validated(source: str) -> Iterator[None]:
    """A pydantic ValidationError raised inside becomes a one-line ConfigError naming `source`."""
    try:
        yield
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid {exc.title}: {_describe(exc)}") from exc


class Config(BaseModel):
    """Base of every stage's configuration: unknown keys are errors, values are validated, and no float
    setting is NaN or infinite (`lr: .inf` would train on NaN losses and exit 0)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @classmethod
    def from_yaml(cls: type[T], url: str | os.PathLike[str], **overrides: Any) -> T:
        """Load from a YAML file at any storage URL; `overrides` that are not None (CLI flags) win."""
        return cls.build(source=redact(os.fspath(url)), **merge(read_yaml(url), given(overrides)))

    @classmethod
    def build(cls: type[T], source: str = "<flags>", **values: Any) -> T:
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(f"{source}: invalid {cls.__name__}: {_describe(exc)}") from exc

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def resolve(
    cls: type[T],
    config: str | os.PathLike[str] | None = None,
    *,
    preset: Mapping[str, Any] | None = None,
    **flags: Any,
) -> T:
    """The one rule of every command: defaults < `preset` < the YAML file `config` < flags given (not None)."""
    values = dict(preset or {})
    source = "<flags>"
    if config is not None:
        values = merge(values, read_yaml(config))
        source = redact(os.fspath(config))
    return cls.build(source=source, **merge(values, given(flags)))
