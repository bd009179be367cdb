"""`hmc`: the command line of the platform, one subcommand per stage.

Each stage's commands live in their own `cli_<stage>` module beside this one; they import the stage
lazily so that `hmc --help` stays fast and a stage's heavy dependencies load only when used.
"""

from __future__ import annotations

import importlib
import logging

import typer

app = typer.Typer(
    name="hmc",
    help="Hephaestus Minicubes platform: synthesize sources, ingest cubes, catalog, stream and train.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

COMMAND_MODULES = (
    "hephaestus.platform.cli_synth",
    "hephaestus.platform.cli_ingest",
    "hephaestus.platform.cli_catalog",
    "hephaestus.platform.cli_train",
    "hephaestus.platform.cli_demo",
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that stage's commands are not part of this build
                continue
            raise
        module.register(app)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
