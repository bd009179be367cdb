"""hmc predict: a georeferenced raster whose grid is the cube's, inputs normalised as in training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import xarray as xr
from typer.testing import CliRunner

from hephaestus.cli.app import app
from hephaestus.platform import schema
from hephaestus.platform.cube import open_cube
from hephaestus.platform.dataspec import DataSpec
from hephaestus.platform.inputs import InputSpec
from hephaestus.train.config import RunConfig
from hephaestus.train.data.samples import Step
from hephaestus.train.loop import input_record
from hephaestus.train.models import build_model
from hephaestus.train.predict import PredictError, find_pair, frame_input, predict

from factories import write_published_cube


def _spec(run: RunConfig) -> InputSpec:
    return InputSpec.create(
        DataSpec(
            atmosphere=run.atmosphere,
            series=run.series,
            series_length=3,
            crop_size=run.crop_size,
            statistics="authors",
        )
    )


def _checkpoint(folder: Path, run: RunConfig, channels: int) -> Path:
    """A checkpoint folder laid out as the training loop writes it (the authors' statistics)."""
    folder.mkdir(parents=True)
    spec = _spec(run)
    assert spec.in_channels == channels
    model = build_model(run.model, channels, weights="random", encoder=run.encoder).module
    torch.save(model.state_dict(), folder / "best.pt")
    (folder / "run_config.json").write_text(json.dumps(run.model_dump(mode="json")))
    (folder / "input.json").write_text(json.dumps(input_record(run, spec, "random")))
    return folder


@pytest.fixture(scope="module")
def cube(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("predict") / "001A_00001_000001.zarr"
    write_published_cube(path, zarr_format=2, height=40, width=56)
    return str(path)


def test_segmentation_geotiff_matches_the_cube_grid(cube: str, tmp_path: Path) -> None:
    run = RunConfig(model="unet", encoder="resnet18", crop_size=32, atmosphere=True)
    ckpt = _checkpoint(tmp_path / "ckpt", run, 9)
    out = tmp_path / "mask.tif"
    info = predict(str(ckpt), cube, str(out), pair="20180105_20180111")
    assert info["primary_date"] == "2018-01-05" and info["secondary_date"] == "2018-01-11"
    ds = xr.open_zarr(cube)
    lat, lon = ds["latitude"].values, ds["longitude"].values
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 4326
        assert (src.width, src.height, src.count) == (56, 40, 2)
        # Pixel centres of the cube are the raster's pixel centres (spacing 0.001 deg, north up).
        for row, col in [(0, 0), (39, 55), (17, 3)]:
            x, y = src.xy(row, col)
            assert x == pytest.approx(lon[col], abs=1e-9) and y == pytest.approx(lat[row], abs=1e-9)
        assert src.transform.a == pytest.approx(0.001) and src.transform.e == pytest.approx(-0.001)
        prob, mask = src.read(1), src.read(2)
        assert src.descriptions == ("deformation_probability", "deformation_mask")
    assert ((prob >= 0) & (prob <= 1)).all()
    np.testing.assert_array_equal(mask, (prob >= 0.5).astype(np.float32))


def test_classifier_zarr_has_coordinates_and_spatial_ref(split_store: Path, tmp_path: Path) -> None:
    run = RunConfig(model="mobilenetv3_large_100", crop_size=32, atmosphere=False, series=True)
    ckpt = _checkpoint(tmp_path / "ckpt", run, 9)  # 3 channels x 3 steps
    cube = str(sorted((split_store / "cubes").glob("*.zarr"))[0])  # a series model reads the store's catalog
    ds = open_cube(cube)
    uid = str(ds["unique_id"].values[1, 2])
    out = tmp_path / "score.zarr"
    info = predict(str(ckpt), cube, str(out), unique_id=uid)
    assert info["unique_id"] == uid and 0.0 <= info["score"] <= 1.0
    got = xr.open_zarr(out, consolidated=False)  # predict writes no consolidated metadata
    np.testing.assert_array_equal(got["latitude"].values, ds["latitude"].values)
    np.testing.assert_array_equal(got["longitude"].values, ds["longitude"].values)
    assert "spatial_ref" in got.coords and "crs_wkt" in got["spatial_ref"].attrs
    assert float(got["deformation_score"].max()) == pytest.approx(info["score"], abs=1e-6)


def test_frame_input_is_zscored_with_no_data_zeroed(cube: str) -> None:
    ds = open_cube(cube)
    run = RunConfig(crop_size=32, atmosphere=True)
    image = frame_input(cube, [Step(cube, 0, 0, None)], _spec(run))
    assert image.shape == (9, 40, 56)
    raw = float(ds["insar_coherence"].values[0, 0, 5, 7])
    mean, std = schema.AUTHORS_STATISTICS["insar_coherence"]
    assert image[1, 5, 7] == pytest.approx((raw - mean) / std, rel=1e-5)
    dem = float(ds["dem"].values[3, 4])
    assert image[2, 3, 4] == pytest.approx((dem - 833.0587512223403) / 977.504283216005, rel=1e-5)


def test_unknown_pair_and_bad_checkpoint_are_clear_errors(cube: str, tmp_path: Path) -> None:
    ds = open_cube(cube)
    with pytest.raises(PredictError, match="20990101_20990113 is not in the cube"):
        find_pair(ds, pair="20990101_20990113")
    # a series model needs the catalog's series: a cube outside STORE/cubes/ without --store is refused
    run = RunConfig(model="mobilenetv3_large_100", crop_size=32, atmosphere=False, series=True)
    ckpt = _checkpoint(tmp_path / "series", run, 9)
    with pytest.raises(PredictError, match="give --store"):
        predict(str(ckpt), cube, str(tmp_path / "s.zarr"), pair="20180105_20180111")
    # a checkpoint from before the input specification is refused, not guessed
    old = _checkpoint(tmp_path / "old", RunConfig(model="unet", encoder="resnet18", crop_size=32), 9)
    (old / "input.json").write_text(json.dumps({"in_channels": 9, "statistics": {}}))
    with pytest.raises(PredictError, match="no input specification"):
        predict(str(old), cube, str(tmp_path / "o.tif"), pair="20180105_20180111")
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "predict",
            str(tmp_path / "nothing"),
            cube,
            "--out",
            str(tmp_path / "x.tif"),
            "--pair",
            "20180105_20180111",
        ],
    )
    assert result.exit_code == 2
    assert "checkpoint folder not found" in result.output
