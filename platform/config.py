"""Typed configuration: pydantic models loaded from YAML (safe_load only) and overridden by CLI flags."""

from __future__ import annotations

import os
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from hephaestus.platform.errors import InputError
from hephaestus.platform.storage import read_bytes

T = TypeVar("T", bound="Config")


class ConfigError(InputError):
    """A configuration file or flag is invalid: names the file and the field."""


class Config(BaseModel):
    """Base of every stage's configuration: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def from_yaml(cls: type[T], url: str | os.PathLike[str], **overrides: Any) -> T:
        """Load from a YAML file at any storage URL; `overrides` (CLI flags) win over the file."""
        text = read_bytes(os.fspath(url)).decode()
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{url}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{url}: expected a mapping at the top level, got {type(data).__name__}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.build(source=str(url), **data)

    @classmethod
    def build(cls: type[T], source: str = "<flags>", **values: Any) -> T:
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(f"{source}: invalid {cls.__name__}: {exc}") from exc

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
