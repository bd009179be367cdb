"""`hmc ingest --from-minicubes` on published cubes as users hold them.

- Re-saved by zarr 3 (v2 or v3 format) or by zarr 2.18 (the authors' pins) with fill-valued chunks
  skipped, a published cube converts: those chunks are fill by construction (grid mapping, masks, pair
  scalars, rasters of pairs without a product).
- A lost chunk of a measured variable (`insar_difference` of a pair with a product) is refused, with a
  one-line reason naming the variable and the chunk.
- Mask backgrounds: the published cubes mark background 0 in every mask (0 is also "Low" intensity);
  converted cubes hold the platform's background codes there (hand-written expected arrays).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from authors_env import authors_python

from hephaestus.ingest.convert import convert_minicubes
from hephaestus.platform import schema
from hephaestus.platform.cube import open_cube

from factories import make_cube_dataset, write_cube

pytestmark = pytest.mark.usefixtures("ray_local")

FRAME = "001A_00001_000001"

RESAVE_ZARR218 = """
import sys
import xarray as xr
src, dst = sys.argv[1], sys.argv[2]
xr.open_zarr(src).to_zarr(dst, mode="w", write_empty_chunks=False, consolidated=True)
"""


def _published(path: Path, height: int = 8, width: int = 8, n_secondary: int = 3) -> xr.Dataset:
    """A published-layout v2 cube (every chunk written): pairs without a product hold NaN rasters, and
    every mask background is 0 as in the published cubes."""
    ds = make_cube_dataset(FRAME, n_primary=2, n_secondary=n_secondary, height=height, width=width)
    invalid = ~ds.valid_date_pair.values
    for name in schema.RASTER_VARIABLES:
        if name not in schema.MASK_VARIABLES:
            ds[name].values[invalid] = np.nan
    ds["intensity_level_mask"].values[ds["deformation_mask"].values == 0] = 0
    write_cube(path, ds, zarr_format=2)
    return ds


def _resave(src: Path, ds: xr.Dataset, dst: Path, how: str) -> str:
    """Re-save a published cube as a user would; returns the chunk key of pair (0, 1) of insar_difference."""
    if how == "zarr3-v2":  # zarr 3 skips chunks equal to the fill value (the dtype's zero where none is set)
        xr.open_zarr(src).to_zarr(dst, mode="w", zarr_format=2, consolidated=True)
        assert not (dst / "spatial_ref" / "0").exists()  # the 0-d grid mapping has no chunk
        return "insar_difference/0.1.0.0"
    if how == "zarr3-v3":
        write_cube(dst, ds, zarr_format=3)
        assert not (dst / "spatial_ref" / "c").exists()
        return "insar_difference/c/0/1/0/0"
    done = subprocess.run(
        [str(authors_python()), "-c", RESAVE_ZARR218, str(src), str(dst)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # zarr 2.18 skips chunks equal to a declared fill value: NaN rasters and confidence of empty pairs
    assert not (dst / "insar_difference" / "1.0.0.0").exists()
    assert not (dst / "confidence" / "1.0").exists()
    return "insar_difference/0.1.0.0"


@pytest.mark.parametrize("how", ["zarr3-v2", "zarr3-v3", "zarr2.18"])
def test_resaved_cube_converts_and_lost_chunk_is_refused(how: str, tmp_path: Path) -> None:
    ds = _published(tmp_path / "src.zarr")
    cube = tmp_path / "resaved" / f"{FRAME}.zarr"
    key = _resave(tmp_path / "src.zarr", ds, cube, how)

    summary = convert_minicubes([str(cube)], str(tmp_path / "out"), workers=1)
    assert not summary.quarantined, summary.quarantined
    assert summary.pairs_written == int(ds.valid_date_pair.sum())
    got = open_cube(tmp_path / "out" / "cubes" / f"{FRAME}.zarr").load()
    valid = ds.valid_date_pair.values
    np.testing.assert_array_equal(got.valid_date_pair.values, valid)
    for name in ("insar_difference", "insar_coherence", "deformation_mask", "activity_type_mask"):
        np.testing.assert_array_equal(got[name].values[valid], ds[name].values[valid], err_msg=name)
    np.testing.assert_array_equal(got.dem.values, ds.dem.values)
    np.testing.assert_array_equal(got.confidence.values[valid], ds.confidence.values[valid])

    assert ds.valid_date_pair.values[0, 1]
    (cube / key).unlink()  # one chunk of a pair with a product is lost
    refused = convert_minicubes([str(cube)], str(tmp_path / "out2"), workers=1)
    assert [r.product for r in refused.quarantined] == ["cube"]
    reason = refused.quarantined[0].reason
    assert "\n" not in reason
    assert "'insar_difference'" in reason and key in reason, reason


def test_missing_measured_chunk_of_pair_without_product_is_accepted(tmp_path: Path) -> None:
    """A raster chunk of a pair without a product holds nothing: its absence loses no data."""
    ds = _published(tmp_path / "src.zarr")
    assert not ds.valid_date_pair.values[1, 0]
    (tmp_path / "src.zarr" / "insar_difference" / "1.0.0.0").unlink()
    summary = convert_minicubes([str(tmp_path / "src.zarr")], str(tmp_path / "out"), workers=1)
    assert not summary.quarantined and summary.pairs_written == int(ds.valid_date_pair.sum())


def test_mask_backgrounds_use_platform_codes(tmp_path: Path) -> None:
    ds = make_cube_dataset(FRAME, n_primary=1, n_secondary=2, height=4, width=4)
    assert ds.valid_date_pair.values.tolist() == [[True, True]]
    # pair (0, 0): a 2 x 2 deformed area (Dyke; intensities Low, Medium, Low, Low); the published
    # cubes hold 0 in every mask outside it. Pair (0, 1): no deformation, all 0.
    deformation = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]], "int32")
    activity = np.array([[0, 0, 0, 0], [0, 2, 2, 0], [0, 2, 2, 0], [0, 0, 0, 0]], "int32")
    intensity = np.array([[0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]], "int32")
    for name, values in (
        ("deformation_mask", deformation),
        ("activity_type_mask", activity),
        ("intensity_level_mask", intensity),
    ):
        ds[name].values[0, 0] = values
        ds[name].values[0, 1] = 0
    write_cube(tmp_path / f"{FRAME}.zarr", ds, zarr_format=2)

    summary = convert_minicubes([str(tmp_path / f"{FRAME}.zarr")], str(tmp_path / "out"), workers=1)
    assert not summary.quarantined
    got = open_cube(tmp_path / "out" / "cubes" / f"{FRAME}.zarr").load()
    want_intensity = np.array([[-1, -1, -1, -1], [-1, 0, 1, -1], [-1, 0, 0, -1], [-1, -1, -1, -1]], "int32")
    np.testing.assert_array_equal(got.intensity_level_mask.values[0, 0], want_intensity)
    np.testing.assert_array_equal(got.intensity_level_mask.values[0, 1], np.full((4, 4), -1, "int32"))
    np.testing.assert_array_equal(got.deformation_mask.values[0, 0], deformation)
    np.testing.assert_array_equal(got.activity_type_mask.values[0, 0], activity)
    np.testing.assert_array_equal(got.deformation_mask.values[0, 1], np.zeros((4, 4), "int32"))
    np.testing.assert_array_equal(got.activity_type_mask.values[0, 1], np.zeros((4, 4), "int32"))
    meanings = dict(
        zip(
            got.intensity_level_mask.attrs["flag_values"],
            got.intensity_level_mask.attrs["flag_meanings"].split(),
            strict=True,
        )
    )
    assert meanings[-1] == "None" and meanings[0] == "Low"
