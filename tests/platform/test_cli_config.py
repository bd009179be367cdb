"""`--config FILE` is honoured by every command that takes one, and a flag overrides it only when given.

Each case writes a YAML value, runs the command with `--print-config` (the configuration it would run
with) and expects that value; then gives the flag and expects the flag's value. The expectation is the
value written in the file, not what the code computed. The catalog, synth and ingest tests check that the
value also takes effect in a real run (tests/catalog/test_catalog_cli_config.py, tests/synthetic,
tests/ingest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from hephaestus.cli.app import app

# command argv (from a temporary folder), YAML text, flag argv, path of the value, YAML value, flag value
CASES: dict[str, tuple[Any, str, list[str], tuple[str, ...], Any, Any]] = {
    "synth": (lambda t: ["synth", str(t / "o")], "pairs: 7\nseed: 3\n", ["--pairs", "5"], ("pairs",), 7, 5),
    "ingest": (
        lambda t: ["ingest", str(t / "src"), "--out", str(t / "s")],
        "pairs_per_task: 9\nzarr_format: 2\n",
        ["--pairs-per-task", "3"],
        ("pairs_per_task",),
        9,
        3,
    ),
    "catalog build": (
        lambda t: ["catalog", "build", str(t / "s")],
        "series_length: 4\nstatistics: false\n",
        ["-T", "2"],
        ("series_length",),
        4,
        2,
    ),
    "catalog from-annotations": (
        lambda t: ["catalog", "from-annotations", str(t / "a"), "--out", str(t / "s")],
        "seed: 7\nstrict: false\n",
        ["--seed", "1"],
        ("seed",),
        7,
        1,
    ),
    "train": (
        lambda t: ["train", str(t / "s"), "--out", str(t / "r")],
        "epochs: 7\nseries: true\n",
        ["--epochs", "2"],
        ("epochs",),
        7,
        2,
    ),
    "benchmark": (
        lambda t: ["benchmark", str(t / "s"), "--out", str(t / "r")],
        "seeds: [4]\nbase:\n  epochs: 7\n",
        ["--epochs", "5"],
        ("base", "epochs"),
        7,
        5,
    ),
    "demo": (lambda t: ["demo", str(t / "d")], "pairs: 7\ngrid: paper\n", ["--pairs", "5"], ("pairs",), 7, 5),
    "monitor": (
        lambda t: ["monitor", str(t / "src"), str(t / "s"), "--checkpoint", str(t / "c")],
        "thresholds:\n  score: 0.7\n  mask_probability: 0.4\nbatch_size: 4\n",
        ["--score-threshold", "0.9"],
        ("thresholds", "score"),
        0.7,
        0.9,
    ),
}


def _printed(argv: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*argv, "--print-config"])
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.stdout)


def _at(values: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        values = values[key]
    return values


@pytest.mark.parametrize("command", sorted(CASES))
def test_yaml_value_takes_effect_and_a_given_flag_overrides_it(command: str, tmp_path: Path) -> None:
    argv, text, flag, path, in_yaml, in_flag = CASES[command]
    config = tmp_path / "config.yaml"
    config.write_text(text)
    base = [*argv(tmp_path), "--config", str(config)]
    from_file = _printed(base)
    assert _at(from_file, path) == in_yaml
    with_flag = _printed([*base, *flag])
    assert _at(with_flag, path) == in_flag
    # every other value of the file survives the flag (flags not given never override the file)
    for key, value in yaml.safe_load(text).items():
        if (key,) != path[:1]:
            assert with_flag[key] == value, key
    assert _at(_printed(argv(tmp_path)), path) not in (in_yaml, in_flag)  # the default is neither


def test_catalog_build_without_config_keeps_its_defaults(tmp_path: Path) -> None:
    printed = _printed(["catalog", "build", str(tmp_path)])
    assert printed["series_length"] == 3 and printed["statistics"] is True and printed["strict"] is False


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["train", str(tmp_path), "--out", "r", "--config", str(tmp_path / "x.yaml")]
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'x.yaml'}: configuration file not found"
