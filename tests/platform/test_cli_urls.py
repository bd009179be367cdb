"""Every URL/path a command receives is normalised once, at the CLI (issue 12, item 8): stages get absolute
local paths (Ray trials and workers run in folders of their own) and remote URLs unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import hephaestus.catalog as catalog
import hephaestus.catalog.export_authors as export_authors
import hephaestus.train.predict as predict
from hephaestus.cli.app import app
from hephaestus.cli.common import normalise_url


@pytest.fixture
def in_tmp(tmp_path: Path) -> Path:
    """Run the command from tmp_path, so relative paths mean tmp_path/<name>."""
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path.resolve()
    os.chdir(old)


def test_normaliser_rules(in_tmp: Path) -> None:
    assert normalise_url("store") == str(in_tmp / "store")
    assert normalise_url(f"file://{in_tmp}/a/../store/") == str(in_tmp / "store")
    assert normalise_url("s3://bucket/store/") == "s3://bucket/store"
    assert normalise_url("gs://bucket/x") == "gs://bucket/x"
    assert normalise_url(["a", "s3://b/c"]) == [str(in_tmp / "a"), "s3://b/c"]
    assert normalise_url(Path("p")) == in_tmp / "p"
    assert normalise_url(None) is None


def test_ingest_config_holds_absolute_urls(in_tmp: Path) -> None:
    (in_tmp / "src").mkdir()
    result = CliRunner().invoke(
        app, ["ingest", "src", "--out", "store", "--era5", "file://era5", "--print-config"]
    )
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load(result.output)
    assert cfg["sources"] == str(in_tmp / "src")
    assert cfg["out"] == str(in_tmp / "store")
    assert cfg["era5"] == str(in_tmp / "era5")


def _spy(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[tuple]:
    calls: list[tuple] = []

    def record(*args: object, **kwargs: object) -> None:
        calls.append((args, kwargs))
        raise SystemExit(0)  # the stage itself is not under test here

    monkeypatch.setattr(module, name, record)
    return calls


@pytest.mark.parametrize(
    ("module", "name", "argv", "expect"),
    [
        (catalog, "build_catalog", ["catalog", "build", "store", "--annotations", "ann"], ["store", "ann"]),
        (
            catalog,
            "catalog_from_annotations",
            ["catalog", "from-annotations", "ann", "--out", "store", "--available", "q.json"],
            ["ann", "store", "q.json"],
        ),
        (
            export_authors,
            "export_authors",
            ["catalog", "export-authors", "store", "authors"],
            ["store", "authors"],
        ),
        (
            predict,
            "predict",
            [
                "predict",
                "ckpt",
                "cube.zarr",
                "--out",
                "m.tif",
                "--pair",
                "20200101_20200113",
                "--store",
                "st",
            ],
            ["ckpt", "cube.zarr", "m.tif", "st"],
        ),
    ],
)
def test_stage_receives_absolute_paths(
    in_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    module: object,
    name: str,
    argv: list[str],
    expect: list[str],
) -> None:
    calls = _spy(monkeypatch, module, name)
    CliRunner().invoke(app, argv)
    assert calls, f"{name} was not called"
    args, kwargs = calls[0]
    received = [a for a in (*args, *kwargs.values()) if isinstance(a, str)]
    for rel in expect:
        assert str(in_tmp / rel) in received, (rel, received)
    assert not any(r in received for r in expect), received
