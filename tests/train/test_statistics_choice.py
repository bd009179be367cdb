"""Normalisation statistics are chosen per run and per grid, default `train`, and travel in the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from hephaestus.cli.app import app
from hephaestus.train.config import GridConfig, RunConfig, grid_preset
from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.loop import input_record
from hephaestus.train.sources import CatalogSource


def _plan(args: list[str], tmp_path: Path) -> list[dict]:
    result = CliRunner().invoke(
        app, ["benchmark", str(tmp_path / "store"), "--grid", "smoke", "--dry-run", "--format", "json", *args]
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_default_is_train_and_a_flag_or_the_grid_file_chooses_authors(tmp_path: Path) -> None:
    assert RunConfig().statistics == "train" and grid_preset("paper").base.statistics == "train"
    assert {r["statistics"] for r in _plan([], tmp_path)} == {"train"}
    assert {r["statistics"] for r in _plan(["--statistics", "authors"], tmp_path)} == {"authors"}
    grid = grid_preset("smoke").model_dump(mode="json")
    grid["base"]["statistics"] = "authors"
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    assert GridConfig.from_yaml(path).base.statistics == "authors"
    assert all(run.statistics == "authors" for run in GridConfig.from_yaml(path).runs())
    bad = CliRunner().invoke(
        app, ["benchmark", str(tmp_path / "s"), "--grid", "smoke", "--dry-run", "--statistics", "catalog"]
    )
    assert bad.exit_code == 2


def test_the_checkpoint_records_the_choice_and_its_values(split_store: Path) -> None:
    from hephaestus.catalog import read_train_statistics

    for choice in ("train", "authors"):
        run = RunConfig(crop_size=16, statistics=choice)
        dataset = CatalogSource(str(split_store))(LoaderConfig.for_split(run, "train"))
        record = json.loads(json.dumps(input_record(run, dataset.input_spec, "random")))
        spec = record["input_spec"]
        assert spec["statistics_source"] == choice
        want = (
            read_train_statistics(split_store)
            if choice == "train"
            else {"dem": (833.0587512223403, 977.504283216005)}
        )
        assert tuple(spec["statistics"]["dem"]) == tuple(want["dem"])
