"""`hmc`: the command line of the platform, one subcommand per stage.

Each stage's commands live in their own `cli_<stage>` module beside this one; they import the stage
lazily so that `hmc --help` stays fast and a stage's heavy dependencies load only when used.
"""

from __future__ import annotations

import logging

import typer

from hephaestus.platform import cli_catalog, cli_demo, cli_ingest, cli_synth, cli_train

app = typer.Typer(
    name="hmc",
    help="Hephaestus Minicubes platform: synthesize sources, ingest cubes, catalog, stream and train.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for _commands in (cli_synth, cli_ingest, cli_catalog, cli_train, cli_demo):
    _commands.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
