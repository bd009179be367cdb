"""What every `hmc` command shares: the `--config` / `--print-config` options and their handling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from hephaestus.platform.config import Config
from hephaestus.platform.storage import normalize


def config_option(model: str) -> Path | None:
    """`--config FILE`: a YAML file of `model`'s fields; the flags given on the command line override it."""
    return typer.Option(None, "--config", help=f"YAML {model}; the flags given on the command line win.")


def print_config_option() -> bool:
    return typer.Option(False, "--print-config", help="Print the effective configuration (YAML) and exit.")


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
