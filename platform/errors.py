"""The one error hierarchy of the platform.

Every error a stage raises on purpose derives from :class:`HephaestusError`, so the CLI catches the base once and
prints one line. The two branches say whose fault it is, which decides the exit code:

- :class:`InputError` (exit 2): the user's input or usage is wrong (a file, a URL, a flag, a config value).
- :class:`PlatformRuntimeError` (exit 1): the input was fine but the run failed (a cluster, a server, a build).

Errors keep a standard-library base as well (``ValueError``, ``FileNotFoundError``, ``RuntimeError``) where code
and users already catch those.
"""

from __future__ import annotations

EXIT_INPUT = 2
EXIT_RUNTIME = 1


class HephaestusError(Exception):
    """Base of every error the platform raises on purpose; ``exit_code`` is what the CLI exits with."""

    exit_code: int = EXIT_RUNTIME


class InputError(HephaestusError, ValueError):
    """Bad input or usage: the message names the file or URL and what is wrong (CLI exit 2)."""

    exit_code = EXIT_INPUT


class InputNotFoundError(InputError, FileNotFoundError):
    """A file, folder, URL or catalog that the command needs does not exist (CLI exit 2)."""


class PlatformRuntimeError(HephaestusError, RuntimeError):
    """The input was acceptable but the run failed (CLI exit 1)."""

    exit_code = EXIT_RUNTIME
