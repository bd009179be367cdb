"""Every `hmc` command reports a bad input as one line on stderr with exit 2; `--debug` adds the traceback.

The CLI catches the platform's error base once (cli/app.py). Each case below gives a command an input
that is wrong in a way a user makes (a missing folder, a broken file, a bad value) and expects the line to
name that input. No case starts Ray: a bad input is refused before any work.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hephaestus.cli.app import CommandGroup, app, root_options


def _bad_yaml(root: Path) -> Path:
    path = root / "bad.yaml"
    path.write_text("frames: 0\n")
    return path


def _bad_annotations(root: Path) -> Path:
    folder = root / "annotations"
    folder.mkdir()
    (folder / "77.json").write_text('{"uniqueID": 77,')
    return folder


# command -> (argv from a temporary folder, a text the one line must contain)
CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "synth": (lambda t: ["synth", str(t / "out"), "--config", str(_bad_yaml(t))], "bad.yaml"),
    "plot-pair": (lambda t: ["plot-pair", str(t / "nowhere"), "1"], "nowhere"),
    "ingest": (lambda t: ["ingest", str(t / "nowhere"), "--out", str(t / "s")], "nowhere"),
    "catalog build": (lambda t: ["catalog", "build", str(t / "nowhere")], "nowhere"),
    "catalog from-annotations": (
        lambda t: ["catalog", "from-annotations", str(_bad_annotations(t)), "--out", str(t / "s")],
        "77.json",
    ),
    "catalog export-authors": (
        lambda t: ["catalog", "export-authors", str(t / "nowhere"), str(t / "o")],
        "nowhere",
    ),
    "catalog query": (lambda t: ["catalog", "query", str(t / "nowhere"), "SELECT 1"], "nowhere"),
    "train": (
        lambda t: ["train", str(t / "nowhere"), "--out", str(t / "r"), "--weights", "random"],
        "nowhere",
    ),
    "benchmark": (lambda t: ["benchmark", str(t / "nowhere"), "--out", str(t / "r")], "nowhere"),
    "predict": (
        lambda t: [
            "predict",
            str(t / "nowhere"),
            str(t / "c.zarr"),
            "--out",
            str(t / "x.tif"),
            "--pair",
            "1_2",
        ],
        "nowhere",
    ),
    "demo": (lambda t: ["demo", str(t / "d"), "--config", str(_bad_yaml(t))], "bad.yaml"),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(command: str, tmp_path: Path) -> None:
    argv, named = CASES[command]
    result = CliRunner().invoke(app, argv(tmp_path))
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["catalog build", "synth"])
def test_debug_shows_the_traceback(command: str, tmp_path: Path) -> None:
    argv, named = CASES[command]
    result = CliRunner().invoke(app, ["--debug", *argv(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("Traceback (most recent call last)")
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and named in result.stderr


def test_unexpected_error_is_one_line_and_exit_1() -> None:
    """An exception that is not a platform error (a bug, a library failure) gets the same one line, exit 1."""
    toy = typer.Typer(cls=CommandGroup)
    toy.callback()(root_options)

    @toy.command()
    def divide(n: int) -> None:
        typer.echo(str(1 / n))

    ok = CliRunner().invoke(toy, ["divide", "4"])
    assert ok.exit_code == 0 and ok.stdout == "0.25\n"
    result = CliRunner().invoke(toy, ["divide", "0"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: division by zero (ZeroDivisionError; hmc --debug ... shows the traceback)"
    ]
    debug = CliRunner().invoke(toy, ["--debug", "divide", "0"])
    assert debug.exit_code == 1 and debug.stderr.startswith("Traceback (most recent call last)")
    assert "1 / n" in debug.stderr and debug.stderr.strip().endswith(
        "error: division by zero (ZeroDivisionError)"
    )


def test_usage_error_keeps_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["predict", str(tmp_path), str(tmp_path), "--out", "x.tif"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: give exactly one of --pair and --unique-id"
