"""`hmc`: the command line of the platform, one subcommand per stage.

Each stage's commands live in their own module beside this one (`cli/<stage>.py`); they import the stage
lazily so that `hmc --help` stays fast and a stage's heavy dependencies load only when used.

Errors are handled here, once, for every command (:class:`CommandGroup`): an error the platform raises on
purpose (:class:`~hephaestus.platform.errors.HephaestusError`) prints one line and exits with its
``exit_code`` (2 for bad input or usage, 1 for a failed run); anything else is a bug or an environment
failure: one line and exit 1. ``hmc --debug ...`` adds the traceback.
"""

from __future__ import annotations

import logging
import os
import traceback
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from hephaestus.cli import catalog, dashboard, demo, ingest, monitor, synth, train
from hephaestus.platform.errors import EXIT_RUNTIME, HephaestusError
from hephaestus.platform.ray_session import VERBOSE_ENV


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (multi-line messages are joined with '; ')."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def report_error(exc: Exception, *, debug: bool) -> int:
    """Print `exc` as one line on stderr (the traceback first with `debug`); return the exit code."""
    if debug:
        typer.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
    if isinstance(exc, HephaestusError):
        typer.echo(f"error: {one_line(exc)}", err=True)
        return exc.exit_code
    hint = "" if debug else "; hmc --debug ... shows the traceback"
    typer.echo(f"error: {one_line(exc)} ({type(exc).__name__}{hint})", err=True)
    return EXIT_RUNTIME


class CommandGroup(TyperGroup):
    """The root group: every command runs inside its `invoke`, so errors are caught here once."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise  # typer's own exits and usage errors keep their meaning
        except Exception as exc:
            raise typer.Exit(report_error(exc, debug=bool(ctx.params.get("debug")))) from None


app = typer.Typer(
    name="hmc",
    cls=CommandGroup,
    help="Hephaestus Minicubes platform: synthesize sources, ingest cubes, catalog, stream and train.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root_options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more; Ray's logs on the terminal too."),
    debug: bool = typer.Option(False, "--debug", help="On an error, print the traceback too."),
) -> None:
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for _commands in (synth, ingest, catalog, train, monitor, demo, dashboard):
    _commands.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
