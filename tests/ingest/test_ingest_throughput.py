"""The pieces ingest's throughput work changed: ERA5 resampling without xarray's interp, the per-worker
ERA5 file cache (the step timers are checked on a real run in test_ingest_pipeline.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hephaestus.ingest import era5 as era5_mod
from hephaestus.ingest.geotiff import Grid
from hephaestus.platform import schema

SHORT = [schema.ERA5_SHORT_NAMES[f] for f in schema.ERA5_FIELDS]


def _planar_file(path: Path, lats: np.ndarray, lons: np.ndarray, coef: float = 1.0) -> None:
    """Fields that are planes in (lat, lon): bilinear interpolation must give them back exactly."""
    la, lo = np.meshgrid(lats, lons, indexing="ij")
    times = np.array(["2020-01-01T00:00", "2020-01-01T01:00"], dtype="datetime64[ns]")
    data = {
        short: (
            ("valid_time", "latitude", "longitude"),
            np.stack([coef * (k + 1) * (3 * la - 2 * lo) + h for h in (0, 100)]),
        )
        for k, short in enumerate(SHORT)
    }
    xr.Dataset(data, coords={"valid_time": times, "latitude": lats, "longitude": lons}).to_netcdf(path)


@pytest.mark.parametrize("lat_descending", [True, False])
def test_resample_reproduces_a_plane_and_refuses_outside_the_box(
    tmp_path: Path, lat_descending: bool
) -> None:
    lats = np.arange(20.0, 18.74, -0.25) if lat_descending else np.arange(18.75, 20.01, 0.25)  # ERA5: N->S
    lons = np.arange(-156.0, -154.74, 0.25)
    path = tmp_path / "plane.nc"
    _planar_file(path, lats, lons)
    entry = era5_mod.index_file(str(path))
    grid = Grid(lat_max=19.9, lon_min=-155.9, height=37, width=53)
    got = era5_mod.resample(era5_mod.open_dataset(str(path)), entry, 1, grid)
    lat, lon = grid.coords()
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    for k, field in enumerate(schema.ERA5_FIELDS):
        want = (k + 1) * (3 * la - 2 * lo) + 100  # hour 1 of the plane, by hand
        assert got[field].dtype == np.float32 and got[field].shape == (37, 53)
        np.testing.assert_allclose(got[field], want, rtol=2e-6)
    beyond = Grid(lat_max=19.9, lon_min=-154.8, height=5, width=100)  # runs east of the file's box
    with pytest.raises(era5_mod.Era5Error, match="gaps over the frame"):
        era5_mod.resample(era5_mod.open_dataset(str(path)), entry, 0, beyond)


def test_resample_matches_scipy_between_grid_nodes(tmp_path: Path) -> None:
    """A non-planar field against scipy's RegularGridInterpolator (an independent bilinear)."""
    from scipy.interpolate import RegularGridInterpolator

    lats, lons = np.arange(20.0, 18.74, -0.25), np.arange(-156.0, -154.74, 0.25)
    rng = np.random.default_rng(3)
    data = {
        s: (("valid_time", "latitude", "longitude"), rng.normal(size=(1, lats.size, lons.size)))
        for s in SHORT
    }
    times = np.array(["2020-01-01T00:00"], dtype="datetime64[ns]")
    path = tmp_path / "noise.nc"
    xr.Dataset(data, coords={"valid_time": times, "latitude": lats, "longitude": lons}).to_netcdf(path)
    grid = Grid(lat_max=19.95, lon_min=-155.95, height=41, width=47)
    got = era5_mod.resample(era5_mod.open_dataset(str(path)), era5_mod.index_file(str(path)), 0, grid)
    lat, lon = grid.coords()
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    for field, short in zip(schema.ERA5_FIELDS, SHORT, strict=True):
        f = RegularGridInterpolator((lats[::-1], lons), data[short][1][0][::-1])
        want = f(np.column_stack([la.ravel(), lo.ravel()])).reshape(la.shape)
        np.testing.assert_allclose(got[field], want, rtol=1e-5, atol=1e-6)


def test_cached_era5_hour_is_read_again_when_replaced(tmp_path: Path) -> None:
    lats, lons = np.arange(20.0, 18.74, -0.25), np.arange(-156.0, -154.74, 0.25)
    path = tmp_path / "day.nc"
    _planar_file(path, lats, lons, coef=1.0)
    entry = era5_mod.index_file(str(path))
    first = era5_mod.hour_cached(entry, 1)
    assert era5_mod.hour_cached(entry, 1) is first  # the same version: kept
    _planar_file(tmp_path / "new.nc", lats, lons, coef=2.0)
    st = path.stat()
    os.utime(tmp_path / "new.nc", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # newer even on coarse clocks
    os.replace(tmp_path / "new.nc", path)
    second = era5_mod.hour_cached(entry, 1)
    field = schema.ERA5_FIELDS[0]
    np.testing.assert_allclose(second.fields[field], 2 * first.fields[field] - 100)
    path.unlink()
    with pytest.raises(era5_mod.Era5Error, match="unreadable NetCDF"):
        era5_mod.hour_cached(entry, 1)


def test_read_hour_decodes_as_xarray(tmp_path: Path) -> None:
    """The task's netCDF4 reader gives the values xarray's CF decoding gives: packed int16 fields (scale,
    offset, fill value), dimensions in another order, float32 axes; then the same resampled fields."""
    lats = np.arange(20.0, 18.74, -0.25).astype("float32")
    lons = np.arange(-156.0, -154.74, 0.25).astype("float32")
    times = np.array(["2020-01-01T00:00", "2020-01-01T01:00", "2020-01-01T02:00"], dtype="datetime64[ns]")
    rng = np.random.default_rng(4)
    data = {}
    for k, short in enumerate(SHORT):
        values = rng.normal(1000.0 * (k + 1), 50.0, (times.size, lats.size, lons.size))
        values[0, 1, 2] = np.nan  # stored as the fill value: NaN again when read
        da = xr.DataArray(values, dims=("valid_time", "latitude", "longitude"))
        data[short] = da.transpose("longitude", "valid_time", "latitude") if k == 1 else da
    ds = xr.Dataset(data, coords={"valid_time": times, "latitude": lats, "longitude": lons})
    enc = {
        s: {"dtype": "int16", "scale_factor": 0.1, "add_offset": 1000.0, "_FillValue": -32767} for s in SHORT
    }
    path = tmp_path / "packed.nc"
    ds.to_netcdf(path, encoding=enc)
    entry = era5_mod.index_file(str(path))
    opened = era5_mod.open_dataset(str(path))
    hour = era5_mod.read_hour(entry, 2)
    names = dict(entry.names)
    first = era5_mod.read_hour(entry, 0).fields
    assert all(np.isnan(first[f][1, 2]) for f in schema.ERA5_FIELDS)
    assert np.isfinite(first[schema.ERA5_FIELDS[0]]).sum() == lats.size * lons.size - 1
    for field in schema.ERA5_FIELDS:
        want = opened[names[field]].isel(valid_time=2).transpose("latitude", "longitude").values
        np.testing.assert_allclose(hour.fields[field], want, rtol=1e-6)
        # by hand: the stored ints (rounded) x 0.1 + 1000
        orig = ds[names[field]].isel(valid_time=2).transpose("latitude", "longitude").values
        np.testing.assert_allclose(
            hour.fields[field], np.round((orig - 1000.0) / 0.1) * 0.1 + 1000.0, rtol=1e-9
        )
    np.testing.assert_array_equal(hour.lat, opened.latitude.values.astype("float64"))
    grid = Grid(lat_max=19.95, lon_min=-155.95, height=21, width=23)
    got = era5_mod.resample_hour(hour, entry, 2, grid)
    want = era5_mod.resample(opened, entry, 2, grid)
    for field in schema.ERA5_FIELDS:
        np.testing.assert_allclose(got[field], want[field], rtol=1e-6)


@pytest.mark.parametrize(
    ("dtype", "fill", "layout"),
    [
        ("float32", np.nan, "sharded-256-lz4"),
        ("int32", -1, "sharded-256-lz4"),
        ("float32", np.nan, "sharded-128-mixed"),  # insar_difference: no compressor
        ("float32", 0.0, "chunk-256-lz4"),
    ],
)
def test_cell_shard_is_the_shard_zarr_writes(tmp_path: Path, dtype: str, fill: float, layout: str) -> None:
    """The fast cell encoder lays out exactly the bytes zarr's own write stores (zarr is the oracle), and
    the values read back are the values written; layouts it does not fit are left to zarr (None)."""
    import zarr
    from zarr.core.sync import sync

    from hephaestus.ingest import ChunkingConfig
    from hephaestus.ingest.encoding import encoding
    from hephaestus.ingest.shards import cell_encoder

    h, w = 300, 530  # not a multiple of the tile: the shard runs past the frame's edge
    enc = encoding(3, 2, 3, h, w, ChunkingConfig(layout=layout))["insar_difference"]
    kw = {
        "shape": (2, 3, h, w),
        "dtype": dtype,
        "fill_value": fill,
        **{k: enc[k] for k in enc if k != "fill_value"},
    }
    rng = np.random.default_rng(0)
    values = (
        rng.normal(size=(h, w)).astype(dtype)
        if dtype == "float32"
        else rng.integers(0, 4, (h, w), dtype=dtype)
    )
    values[:256, :256] = fill  # one inner chunk holds only the fill value: zarr leaves it out
    ref, fast = zarr.create_array(tmp_path / "ref", **kw), zarr.create_array(tmp_path / "fast", **kw)
    encoder = cell_encoder(fast)
    if not layout.startswith("sharded"):
        assert encoder is None
        return
    assert encoder is not None
    ref[1, 2] = values
    sync(fast.store_path.store.set(encoder.key(1, 2), encoder.encode(values)))
    key = "c/1/2/0/0"
    assert (tmp_path / "fast" / key).read_bytes() == (tmp_path / "ref" / key).read_bytes()
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "fast")[1, 2], values)
    assert encoder.encode(np.full((h, w), fill, dtype=dtype)) is None  # all fill: no shard at all
