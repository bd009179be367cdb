"""What every `hmc` command shares: `--config`, `--set` and `--print-config`, and how a command's
configuration is resolved from them (:func:`resolve_config`).

A setting is declared once, as a field of the command's configuration model: `--set KEY=VALUE`
reaches every field (dotted keys for nested ones) with no CLI code, and a dedicated flag, where a
command keeps one, takes its help text from the field's description (:func:`field_help`).
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer
import yaml
from pydantic import BaseModel

from hephaestus.platform.config import Config, ConfigError, merge, resolve, validated
from hephaestus.platform.storage import normalize

T = TypeVar("T", bound=Config)


def config_option(model: str) -> Path | None:
    """`--config FILE`: a YAML file of `model`'s fields; the flags given on the command line override it."""
    return typer.Option(None, "--config", help=f"YAML {model}; the flags given on the command line win.")


def set_option() -> list[str] | None:
    """`--set KEY=VALUE` (repeatable): any field of the command's configuration, over every other source."""
    return typer.Option(
        None,
        "--set",
        metavar="KEY=VALUE",
        help="Set any configuration field (dotted keys for nested ones, e.g. base.epochs=3; the value is "
        "YAML); repeatable; wins over --config and the flags.",
    )


def print_config_option() -> bool:
    return typer.Option(False, "--print-config", help="Print the effective configuration (YAML) and exit.")


def field_help(model: type[BaseModel], name: str, extra: str = "") -> str:
    """The help text of a flag that sets `model.name`: the field's own description (declared once)."""
    description = model.model_fields[name].description
    if not description:
        raise LookupError(f"{model.__name__}.{name} has no description to show as the flag's help")
    text = " ".join(description.split())
    return f"{text} {extra}".rstrip()


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (also inside `X | None`), or None for plain values and mappings."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        models = [m for m in map(_nested_model, typing.get_args(annotation)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def _check_key(model: type[BaseModel], key: str) -> None:
    """Refuse a dotted key that names no field of `model` (inside a mapping field, any key goes)."""
    current: type[BaseModel] | None = model
    for part in key.split("."):
        if current is None:
            return
        fields = current.model_fields
        if part not in fields:
            raise ConfigError(
                f"--set {key}: {current.__name__} has no setting {part!r}; known: {', '.join(fields)}"
            )
        current = _nested_model(fields[part].annotation)


def parse_sets(model: type[BaseModel], items: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` assignments as one nested mapping (later ones win), each value read as YAML."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE (dotted keys for nested settings)")
        _check_key(model, key)
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"--set {key}: value {text!r} is not YAML: {' '.join(str(exc).split())}"
            ) from None
        for part in reversed(key.split(".")[1:]):
            value = {part: value}
        out = merge(out, {key.split(".")[0]: value})
    return out


def resolve_config(
    cls: type[T],
    config: str | os.PathLike[str] | None,
    sets: Sequence[str] | None,
    *,
    preset: Mapping[str, Any] | None = None,
    apply_flags: Callable[[T], T] | None = None,
    **flags: Any,
) -> T:
    """The configuration of a command: defaults < `preset` < the YAML file `config` < the flags given
    (not None; or `apply_flags`, for flags with rules of their own) < the `--set` assignments."""
    cfg = resolve(cls, config, preset=preset, **flags)
    if apply_flags is not None:
        with validated("command line"):
            cfg = apply_flags(cfg)
    if not sets:
        return cfg
    return cls.build(source="--set", **merge(cfg.model_dump(), parse_sets(cls, sets)))


def maybe_print(cfg: Config, print_config: bool) -> None:
    """With `--print-config`, print the configuration the command would run with, and stop."""
    if print_config:
        typer.echo(cfg.to_yaml(), nl=False)
        raise typer.Exit(code=0)


def normalise_url(value: Any) -> Any:
    """Typer callback of every URL/path parameter: the one place a command-line location becomes absolute.

    Local relative paths and `file://` URLs become absolute paths against the caller's working folder;
    remote URLs pass unchanged. Stages then never depend on their own working folder (Ray trials and
    workers run in folders of their own).
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return type(value)(normalise_url(v) for v in value)
    if isinstance(value, Path):
        return Path(normalize(value))
    return normalize(value)
