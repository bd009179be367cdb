"""`hmc`: the command line of the platform, one subcommand per stage.

Each stage's commands live in their own module beside this one (`cli/<stage>.py`); they import the stage
lazily so that `hmc --help` stays fast and a stage's heavy dependencies load only when used.

Errors are handled here, once, for every command (:class:`CommandGroup`): an error the platform raises on
purpose (:class:`~hephaestus.platform.errors.HephaestusError`) prints one line and exits with its
``exit_code`` (2 for bad input or usage, 1 for a failed run); anything else is a bug or an environment
failure: one line and exit 1. ``hmc --debug ...`` adds the traceback. SIGINT and SIGTERM end a command
with one line naming the signal and exit 130 / 143 (platform/signals.py). Every line comes from
:func:`~hephaestus.platform.errors.format_error`.
"""

from __future__ import annotations

import logging
import os
import traceback
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from hephaestus.cli import catalog, dashboard, demo, evaluate, ingest, monitor, synth, train
from hephaestus.platform import signals
from hephaestus.platform.errors import (  # one_line: kept importable from here
    HephaestusError,
    cause_chain,
    exit_code_of,
    format_error,
    one_line,  # noqa: F401
    root_cause,
)
from hephaestus.platform.ray_session import LOG_FILE_ENV, LOG_OWNER_ENV, VERBOSE_ENV
from hephaestus.platform.storage import redact_text


def _log_file() -> str | None:
    """The log file this process opened for its command's Ray logs (`send_logs_to`), if any."""
    target = os.environ.get(LOG_FILE_ENV)
    return target if target and os.environ.get(LOG_OWNER_ENV) == str(os.getpid()) else None


def details_log(exc: BaseException, target: str | None) -> str | None:
    """Write `exc`'s traceback to the command's log file `target` (Ray's log, OUT/logs/ray.log) and say
    where; None without one (then `--debug` shows the traceback)."""
    if not target:
        return None
    chain = cause_chain(exc)
    parts = [f"hmc error: {type(chain[-1]).__name__}\n", *traceback.format_exception(exc)]
    for carrier in chain[:-1]:  # the tracebacks Ray kept as text (a task's, a Train worker's)
        remote = getattr(carrier, "traceback_str", None) or getattr(carrier, "_traceback_str", None)
        if remote:
            parts += [f"{type(carrier).__name__} traceback:\n", str(remote), "\n"]
    if len(chain) > 1:
        parts += ["root cause:\n", *traceback.format_exception(chain[-1])]
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(redact_text("".join(parts)) + "\n")
    except OSError:
        return None
    return f"details in {target}"


def report_error(exc: BaseException, *, debug: bool, log_file: str | None = None) -> int:
    """Print `exc` as one line on stderr (the traceback first with `debug`); return the exit code.

    The line is `format_error`'s, the one formatter of every error: a failure inside a Ray task or Ray
    Train worker is its root cause (Ray's wrappers unwrapped), every URL redacted. An unexpected error's
    traceback goes to the command's log file when it has one.
    """
    if debug:
        typer.echo(redact_text("".join(traceback.format_exception(exc)).rstrip()), err=True)
        details = None
    elif isinstance(root_cause(exc), HephaestusError) or isinstance(exc, KeyboardInterrupt):
        details = None
    else:
        details = details_log(exc, log_file) or "hmc --debug ... shows the traceback"
    typer.echo(format_error(exc, details=details), err=True)
    return exit_code_of(exc)


class CommandGroup(TyperGroup):
    """The root group: every command runs inside its `invoke`, so errors are caught here once."""

    def invoke(self, ctx: typer.Context) -> Any:
        before = _log_file()
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise  # typer's own exits and usage errors keep their meaning
        except (Exception, KeyboardInterrupt) as exc:  # KeyboardInterrupt: SIGINT and SIGTERM (signals.py)
            opened = _log_file()  # the log this command opened (not one an earlier command left set)
            code = report_error(
                exc, debug=bool(ctx.params.get("debug")), log_file=opened if opened != before else None
            )
            raise typer.Exit(code) from None


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


for _commands in (synth, ingest, catalog, train, evaluate, monitor, demo, dashboard):
    _commands.register(app)


def main() -> None:
    signals.enable()  # SIGINT and SIGTERM: exit 130 / 143, Ray shut down on the way out
    app()


if __name__ == "__main__":
    main()
