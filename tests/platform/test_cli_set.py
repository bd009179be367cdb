"""`--set KEY=VALUE` reaches any field of a command's configuration, and the data specification is one.

The expected values are the ones written here (hand-written YAML values), not what the code computed.
The DataSpec tests iterate over `DataSpec.model_fields`, so a new data setting is covered without
touching them: the run carries it, `--set` reaches it, the loader and the input specification follow it.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from hephaestus.cli.app import app
from hephaestus.platform.dataspec import DataSpec
from hephaestus.platform.inputs import InputSpec
from hephaestus.train.config import RunConfig
from hephaestus.train.data.config import LoaderConfig


def _printed(argv: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*argv, "--print-config"])
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.stdout)


def test_set_reaches_a_nested_and_a_flat_field_of_benchmark(tmp_path: Path) -> None:
    printed = _printed(
        ["benchmark", str(tmp_path / "s"), "--set", "base.crop_size=96", "--set", "seeds=[5, 6]"]
    )
    assert printed["base"]["crop_size"] == 96
    assert printed["seeds"] == [5, 6]
    assert printed["base"]["epochs"] == 2  # the rest of the smoke preset's base survives


def test_set_reaches_a_nested_and_a_flat_field_of_monitor(tmp_path: Path) -> None:
    argv = ["monitor", str(tmp_path / "src"), str(tmp_path / "s"), "--checkpoint", str(tmp_path / "c")]
    printed = _printed([*argv, "--set", "thresholds.min_area_km2=0.25", "--set", "batch_size=4"])
    assert printed["thresholds"] == {"score": 0.5, "min_area_km2": 0.25, "mask_probability": 0.5}
    assert printed["batch_size"] == 4


def test_set_wins_over_the_file_and_the_flags(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 7\nlr: 0.5\n")
    argv = ["train", str(tmp_path / "s"), "--out", str(tmp_path / "r"), "--config", str(config)]
    printed = _printed([*argv, "--epochs", "2", "--lr", "0.25", "--set", "epochs=3"])
    assert printed["epochs"] == 3  # --set over the flag and the file
    assert printed["lr"] == 0.25  # the flag over the file
    assert _printed(argv)["lr"] == 0.5


@pytest.mark.parametrize(
    ("argv", "item", "named"),
    [
        (["train", "s", "--out", "r"], "epochz=3", "epochz"),
        (["benchmark", "s"], "base.crop_sise=64", "crop_sise"),
        (["train", "s", "--out", "r"], "epochs=many", "epochs"),
        (["train", "s", "--out", "r"], "epochs", "epochs"),
    ],
)
def test_a_bad_set_is_one_line_naming_the_key(argv: list[str], item: str, named: str) -> None:
    result = CliRunner().invoke(app, [*argv, "--set", item, "--print-config"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --set") and named in lines[0], result.stderr


def _other_value(name: str) -> Any:
    """A valid value of DataSpec field `name` that differs from its default (chosen from its type)."""
    info = DataSpec.model_fields[name]
    default, annotation = info.default, info.annotation
    choices = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
    if choices:
        return next(c for c in choices if c != default)
    if annotation is bool:
        return not default
    if annotation is float:  # a share in [0, 1]
        return 0.5 if default != 0.5 else 0.25
    if str in typing.get_args(annotation):  # an optional URL
        return "mined.json"
    assert int in (annotation, *typing.get_args(annotation)), f"give {name} a case in this test"
    return 2 if default is None else default + 3


def _run_with_every_data_setting_changed() -> RunConfig:
    return RunConfig(**{name: _other_value(name) for name in DataSpec.model_fields})


def test_every_data_setting_reaches_the_run_through_set(tmp_path: Path) -> None:
    changed = {name: _other_value(name) for name in DataSpec.model_fields}
    sets = [arg for name, value in changed.items() for arg in ("--set", f"{name}={value}")]
    printed = _printed(["train", str(tmp_path / "s"), "--out", str(tmp_path / "r"), *sets])
    assert {name: printed[name] for name in DataSpec.model_fields} == changed  # flat in the run's YAML


def test_the_training_loader_carries_every_data_setting_of_the_run() -> None:
    run = _run_with_every_data_setting_changed()
    loader = LoaderConfig.for_split(run, "train")
    for name in DataSpec.model_fields:
        assert getattr(loader, name) == getattr(run, name), name
    evaluation = LoaderConfig.for_split(run, "val")
    assert evaluation.fixed_crops and not evaluation.augment and not evaluation.undersample
    assert not evaluation.shuffle and loader.shuffle and not loader.fixed_crops


def test_the_input_specification_follows_the_run() -> None:
    run = _run_with_every_data_setting_changed()
    spec = InputSpec.create(run)
    assert spec == InputSpec.create(LoaderConfig.for_split(run, "test"))
    assert (spec.atmosphere, spec.crop_size, spec.statistics_source) == (
        run.atmosphere,
        run.crop_size,
        run.statistics,
    )
    assert spec.series_length == (run.series_length if run.series else 1)
