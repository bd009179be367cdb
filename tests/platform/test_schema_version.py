"""The schema has a version: cubes record it, and a later version's optional variable breaks nothing written before.

A stand-in for a future minor version (an optional ERA5 field, `schema.era5_extension`) is set on the schema
module for one test only; cubes, a catalog and a checkpoint written before it must still open, train and
predict, with the checkpoint's channels unchanged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from hephaestus.platform import schema
from hephaestus.platform.cube import CubeUnreadableError, cube_template, grid_coords, open_cube
from hephaestus.platform.inputs import InputSpec, step_channels
from hephaestus.train.config import RunConfig

from factories import AUTHORS_CHANNELS, make_cube_dataset, write_cube

# Written out as independent expectations.
STATISTICS_KEYS = (
    "insar_difference",
    "insar_coherence",
    "dem",
    "total_column_water_vapour",
    "surface_pressure",
    "vertical_integral_of_temperature",
)
NEW_FIELD = "convective_available_potential_energy"
NEW_VARIABLES = (f"primary_date_{NEW_FIELD}", f"secondary_date_{NEW_FIELD}")


def _cube(path: Path, version: str | None, zarr_format: int = 2) -> Path:
    """A factory cube whose root attributes record `version` (None: none, as the authors' cubes)."""
    ds = make_cube_dataset(height=40, width=56)
    ds.attrs.pop(schema.SCHEMA_VERSION_ATTR, None)
    if version is not None:
        ds.attrs[schema.SCHEMA_VERSION_ATTR] = version
    write_cube(path, ds, zarr_format)
    return path


def test_versions_are_documented_and_every_current_variable_is_required() -> None:
    assert list(schema.SCHEMA_VERSIONS)[0] == "1.0.0" == schema.FIRST_VERSION
    assert list(schema.SCHEMA_VERSIONS)[-1] == schema.SCHEMA_VERSION == "1.1.0"
    assert all(var.required and var.since == "1.0.0" for var in schema.VARIABLES.values())
    assert schema.required_variables() == tuple(schema.VARIABLES)
    assert schema.statistics_keys() == STATISTICS_KEYS
    assert schema.cube_attrs("001A_00001_000001")["hmc_schema_version"] == "1.1.0"


def test_a_cube_without_a_version_reads_as_1_0_0(tmp_path: Path) -> None:
    authors = open_cube(_cube(tmp_path / "authors.zarr", None))
    assert "hmc_schema_version" not in authors.attrs
    assert schema.schema_version(authors.attrs) == "1.0.0"
    assert schema.schema_version(open_cube(_cube(tmp_path / "ours.zarr", "1.1.0")).attrs) == "1.1.0"


def test_a_cube_of_another_major_version_or_no_version_string_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CubeUnreadableError, match=r"written with schema 2\.0\.0"):
        open_cube(_cube(tmp_path / "future.zarr", "2.0.0"))
    with pytest.raises(CubeUnreadableError, match="not MAJOR.MINOR.PATCH"):
        open_cube(_cube(tmp_path / "odd.zarr", "one"))
    # a later minor version (variables this platform does not know yet) still opens
    assert schema.schema_version(open_cube(_cube(tmp_path / "minor.zarr", "1.7.0")).attrs) == "1.7.0"


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    import ray

    from hephaestus.platform.ray_session import local_init_kwargs

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    started = not ray.is_initialized()
    if started:
        ray.init(**local_init_kwargs(1))
    try:
        yield
    finally:
        if started:
            ray.shutdown()


@pytest.mark.usefixtures("ray_local")
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_cube_written_by_ingest_records_the_schema_version(tmp_path: Path, zarr_format: int) -> None:
    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.ingest.synthetic import SynthConfig, generate

    generate(SynthConfig(frames=1, pairs=3, height=32, width=32, seed=3), tmp_path / "src")
    summary = run_ingest(
        IngestConfig(
            sources=str(tmp_path / "src"), out=str(tmp_path / "out"), workers=1, zarr_format=zarr_format
        )
    )
    assert summary.ok and summary.cube_urls
    for url in summary.cube_urls:
        attrs = open_cube(url).attrs
        assert attrs["hmc_schema_version"] == schema.SCHEMA_VERSION
        assert schema.schema_version(attrs) == "1.1.0"


def _checkpoint(folder: Path, run: RunConfig, spec: InputSpec) -> Path:
    """A checkpoint folder as the training loop writes it (tests/train/test_predict.py)."""
    from hephaestus.train.loop import input_record
    from hephaestus.train.models import build_model

    folder.mkdir(parents=True)
    model = build_model(run.model, spec.in_channels, weights="random", encoder=run.encoder).module
    torch.save(model.state_dict(), folder / "best.pt")
    (folder / "run_config.json").write_text(json.dumps(run.model_dump(mode="json")))
    (folder / "input.json").write_text(json.dumps(input_record(run, spec, "random")))
    return folder


def _extend_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test process only: the schema of a future minor version with one more (optional) ERA5 field."""
    for name, value in schema.era5_extension(NEW_FIELD, "J kg-1", "cape", since="1.2.0").items():
        monkeypatch.setattr(schema, name, value)


def test_a_new_optional_era5_field_breaks_nothing_written_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hephaestus.catalog import build_catalog, read_statistics, read_train_statistics
    from hephaestus.train.data.config import LoaderConfig
    from hephaestus.train.predict import load_checkpoint, predict
    from hephaestus.train.sources import CatalogSource

    # before: an authors' cube (no version), one of ours, a catalog and a checkpoint trained on it
    store = tmp_path / "store"
    authors = str(_cube(store / "cubes" / "001A_00001_000001.zarr", None))
    ours = str(_cube(tmp_path / "ours.zarr", "1.1.0", zarr_format=3))
    claims = _cube(tmp_path / "claims.zarr", "1.2.0")  # says it is of the version that adds the field
    build_catalog(store)
    run = RunConfig(model="unet", encoder="resnet18", crop_size=32, atmosphere=True, statistics="train")
    before = InputSpec.create(run, train_statistics=read_train_statistics(store))
    ckpt = _checkpoint(tmp_path / "ckpt", run, before)
    assert before.channels == AUTHORS_CHANNELS

    _extend_schema(monkeypatch)
    assert set(NEW_VARIABLES) <= set(schema.VARIABLES) and not schema.VARIABLES[NEW_VARIABLES[0]].required
    assert NEW_FIELD in schema.ERA5_FIELDS
    # the statistics keys include the new field; those every cube has do not
    assert schema.statistics_keys() == (*STATISTICS_KEYS, NEW_FIELD)
    assert schema.statistics_keys(required_only=True) == STATISTICS_KEYS

    # the cubes written before still open, the new variables absent
    for url in (authors, ours):
        ds = open_cube(url)
        assert not set(NEW_VARIABLES) & set(ds.variables)
    # a cube claiming the version that added the field must hold it
    with pytest.raises(CubeUnreadableError, match=f"missing variable.*{NEW_VARIABLES[0]}"):
        open_cube(claims)
    # a cube written now holds the new field
    lat, lon = grid_coords(19.5, -155.6, 4, 5)
    dates = np.array(["2018-01-05"], dtype="datetime64[D]")
    assert set(NEW_VARIABLES) <= set(cube_template("001A_00001_000001", dates, dates + 6, lat, lon).variables)

    # the checkpoint's spec loads with its channels unchanged, and a new spec has the same channels
    loaded = load_checkpoint(str(ckpt))
    assert loaded.spec.channels == before.channels == AUTHORS_CHANNELS
    assert loaded.spec == before
    assert step_channels(True) == AUTHORS_CHANNELS
    recorded = json.loads((ckpt / "input.json").read_text())["input_spec"]
    assert InputSpec.from_record(recorded).channels == tuple(recorded["channels"])

    # the catalog rebuilds over the old cube; its statistics serve the old channels
    build_catalog(store)
    assert read_train_statistics(store) == before.statistics
    assert set(read_statistics(store)) == set(STATISTICS_KEYS)

    # training reads samples of the old channels from the old cube
    loader_run = RunConfig(crop_size=16, statistics="train", atmosphere=True)
    dataset = CatalogSource(str(store))(LoaderConfig.for_split(loader_run, "train"))
    assert dataset.input_spec.channels == AUTHORS_CHANNELS
    assert dataset[0]["image"].shape[0] == len(AUTHORS_CHANNELS)

    # and the old checkpoint predicts on both old cubes
    for url in (authors, ours):
        out = tmp_path / f"{Path(url).stem}.tif"
        info = predict(str(ckpt), url, str(out), pair="20180105_20180111")
        assert info["primary_date"] == "2018-01-05" and out.exists()


def test_an_added_variable_must_be_optional_and_new() -> None:
    required = schema.Variable("extra", schema.GRID_DIMS, "float32", since="1.2.0")
    with pytest.raises(ValueError, match="must be optional"):
        schema.with_variables(required)
    with pytest.raises(ValueError, match="already in the schema"):
        schema.with_variables(schema.Variable("dem", schema.GRID_DIMS, "float32", required=False))
    with pytest.raises(ValueError, match="already in the schema"):
        schema.era5_extension("surface_pressure", "Pa", "sp", since="1.2.0")
