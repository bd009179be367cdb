"""`hmc catalog build|from-annotations --config`: the file's values take effect in the published catalog.

Regression: typer flag defaults were never None, so `--series-length` (3) always overrode the file.
The expected values are the ones written in the YAML (or on the command line), read back from the
published STAC collection.
"""

from __future__ import annotations

import json
from pathlib import Path

from catalog_records import annotation, write_annotations
from typer.testing import CliRunner

from hephaestus.cli.app import app

from factories import write_published_cube


def _collection(store: Path) -> dict:
    return json.loads((store / "catalog" / "collection.json").read_text())


def test_build_reads_the_yaml_and_a_given_flag_wins(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_published_cube(store / "cubes" / "001A_00001_000001.zarr", height=32, width=32)
    config = tmp_path / "catalog.yaml"
    config.write_text("series_length: 4\nstatistics: false\ngeoparquet: false\n")
    runner = CliRunner()
    result = runner.invoke(app, ["catalog", "build", str(store), "--config", str(config)])
    assert result.exit_code == 0, result.output
    coll = _collection(store)
    assert coll["hephaestus:series_length"] == 4
    assert "hephaestus:statistics" not in coll or not coll["hephaestus:statistics"]
    result = runner.invoke(app, ["catalog", "build", str(store), "--config", str(config), "-T", "2"])
    assert result.exit_code == 0, result.output
    assert _collection(store)["hephaestus:series_length"] == 2


def test_from_annotations_reads_the_yaml_and_a_given_flag_wins(tmp_path: Path) -> None:
    records = write_annotations(tmp_path / "ann", [annotation(uid) for uid in range(1, 7)])
    config = tmp_path / "catalog.yaml"
    config.write_text("series_length: 5\n")
    runner = CliRunner()
    store = tmp_path / "s"
    result = runner.invoke(
        app, ["catalog", "from-annotations", str(records), "--out", str(store), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert _collection(store)["hephaestus:series_length"] == 5
    result = runner.invoke(
        app,
        [
            "catalog",
            "from-annotations",
            str(records),
            "--out",
            str(store),
            "--config",
            str(config),
            "-T",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert _collection(store)["hephaestus:series_length"] == 2
