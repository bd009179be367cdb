"""open_cube reads the published layout from any store and refuses what is not a minicube."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hephaestus.platform import schema, storage
from hephaestus.platform.cube import CubeUnreadableError, cube_template, grid_coords, open_cube

from factories import make_cube_dataset, published_encoding, write_published_cube


def _zip_dir(src: Path, dst: Path) -> Path:
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_STORED) as zf:
        for root, _, files in os.walk(src):
            for name in files:
                path = Path(root, name)
                zf.write(path, path.relative_to(src).as_posix())
    return dst


def _upload_one_by_one(loc: storage.Location, src: Path, name: str) -> None:
    # Sequential PUTs: the GCS emulator stalls on fsspec's concurrent batch uploads.
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        loc.fs.put_file(str(path), f"{loc.path}/{name}/{path.relative_to(src).as_posix()}")


def _assert_same(cube: xr.Dataset, expected: xr.Dataset) -> None:
    for name in ("insar_difference", "deformation_mask", "dem", "unique_id", "caption", "valid_date_pair"):
        np.testing.assert_array_equal(cube[name].values, expected[name].values, err_msg=name)


def test_published_v2_directory(tmp_path: Path) -> None:
    expected = write_published_cube(tmp_path / "a.zarr", zarr_format=2)
    import zarr

    group = zarr.open_group(str(tmp_path / "a.zarr"), mode="r")
    assert group.metadata.zarr_format == 2
    assert group["insar_difference"].chunks == (1, 1, 64, 80)
    assert group["caption"].dtype == np.dtype("<U572")
    cube = open_cube(tmp_path / "a.zarr")
    _assert_same(cube, expected)
    assert cube["deformation_mask"].attrs["flag_meanings"] == "Non_Deformation Deformation Earthquake"


def test_v3_directory(tmp_path: Path) -> None:
    expected = write_published_cube(tmp_path / "b.zarr", zarr_format=3)
    _assert_same(open_cube(str(tmp_path / "b.zarr")), expected)


def test_zip_store_as_the_sample_is_shipped(tmp_path: Path) -> None:
    expected = write_published_cube(tmp_path / "c.zarr", zarr_format=2)
    zipped = _zip_dir(tmp_path / "c.zarr", tmp_path / "106A_09090_000404.zarr.zip")
    _assert_same(open_cube(zipped), expected)


def test_crop_reads_do_not_load_the_cube(tmp_path: Path) -> None:
    write_published_cube(tmp_path / "d.zarr")
    cube = open_cube(tmp_path / "d.zarr")
    crop = cube["insar_difference"].isel(
        primary_date=0, secondary_date=1, latitude=slice(0, 8), longitude=slice(0, 8)
    )
    assert crop.shape == (8, 8)
    assert not isinstance(cube["insar_difference"].variable._data, np.ndarray)


def test_s3_and_gcs_urls(tmp_path: Path, s3_bucket: str, gcs_bucket: str) -> None:
    # Few pairs: the GCS emulator takes a fraction of a second per object.
    expected = write_published_cube(
        tmp_path / "e.zarr", zarr_format=2, n_primary=1, n_secondary=2, height=16, width=20
    )
    _zip_dir(tmp_path / "e.zarr", tmp_path / "e.zarr.zip")
    for bucket in (s3_bucket, gcs_bucket):
        loc = storage.location(storage.join(bucket, "cubes"))
        _upload_one_by_one(loc, tmp_path / "e.zarr", "e.zarr")
        loc.fs.put_file(str(tmp_path / "e.zarr.zip"), loc.path + "/e.zarr.zip")
        loc.fs.invalidate_cache()
        _assert_same(open_cube(storage.join(bucket, "cubes", "e.zarr")), expected)
        _assert_same(open_cube(storage.join(bucket, "cubes", "e.zarr.zip")), expected)


def test_missing_variable_is_named(tmp_path: Path) -> None:
    ds = make_cube_dataset().drop_vars("insar_coherence")
    enc = {k: v for k, v in published_encoding(make_cube_dataset()).items() if k in ds}
    ds.to_zarr(tmp_path / "broken.zarr", zarr_format=2, encoding=enc)
    with pytest.raises(CubeUnreadableError, match=r"broken\.zarr.*missing variable\(s\) insar_coherence"):
        open_cube(tmp_path / "broken.zarr")


def test_wrong_dtype_and_dims_are_named(tmp_path: Path) -> None:
    ds = make_cube_dataset()
    ds["deformation_mask"] = ds["deformation_mask"].astype("float32")
    ds.to_zarr(tmp_path / "dtype.zarr", zarr_format=2)
    with pytest.raises(CubeUnreadableError, match="'deformation_mask' has dtype float32, expected int32"):
        open_cube(tmp_path / "dtype.zarr")
    ds = make_cube_dataset()
    ds["confidence"] = ds["confidence"].transpose("secondary_date", "primary_date")
    ds.to_zarr(tmp_path / "dims.zarr", zarr_format=2)
    with pytest.raises(CubeUnreadableError, match="'confidence' has dims"):
        open_cube(tmp_path / "dims.zarr")


def test_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(CubeUnreadableError, match="empty.zarr: not a zarr group"):
        open_cube(tmp_path / "empty.zarr")


def test_template_has_every_variable_at_fill() -> None:
    lat, lon = grid_coords(10.0, 20.0, 4, 5)
    assert lat[0] == pytest.approx(10.0 - 0.0005) and lon[0] == pytest.approx(20.0005)
    ds = cube_template(
        "X", np.array(["2020-01-01"], "datetime64[D]"), np.array(["2020-01-07"], "datetime64[D]"), lat, lon
    )
    assert set(schema.VARIABLES) <= set(ds.variables)
    assert int(ds["intensity_level_mask"].min()) == schema.INTENSITY.code("None")
    assert ds["spatial_ref"].attrs["crs_wkt"].startswith("GEOGCRS")
