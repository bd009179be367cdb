"""One step of `hmc demo`: the command a user would type, and the stage function it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hephaestus.platform.config import Config


@dataclass(frozen=True)
class Step:
    """One step of the demo: the `hmc` command line a user would type for it (printed, so that the demo
    teaches the commands), and the stage function that command runs, called directly."""

    argv: list[str]
    run: Callable[[], None]
    config: Config | None = None
    """The configuration `run` uses: the one `hmc <argv> --print-config` prints (tested)."""
