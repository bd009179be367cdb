"""Open, check and lay out minicubes, whatever the store: zarr v2 or v3, directory or `.zarr.zip`, any fsspec URL."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr
import zarr
import zarr.errors
import zarr.storage

from hephaestus.platform import cube_text, schema
from hephaestus.platform.errors import InputError
from hephaestus.platform.storage import is_local, location, normalize, redact, storage_options


class CubeUnreadableError(InputError):
    """A cube cannot be opened or read, or is not a Hephaestus minicube: names the cube and what is wrong.

    The one "cube unreadable" error of every stage (ingest's checks, the catalog's scan, the loader).
    """


def zarr_store(url: str) -> zarr.abc.store.Store:
    """A read-only zarr store for a directory or `.zip` at any fsspec URL (what open_cube reads through)."""
    text = normalize(url)
    if text.endswith(".zip"):
        if is_local(text):
            return zarr.storage.ZipStore(text, mode="r")
        loc = location(text)
        import fsspec

        zipfs = fsspec.filesystem("zip", fo=loc.fs.open(loc.path, "rb"))
        return zarr.storage.FsspecStore(fs=_as_async(zipfs), path="", read_only=True)
    if is_local(text):
        return zarr.storage.LocalStore(text, read_only=True)
    return zarr.storage.FsspecStore.from_url(text, storage_options=storage_options(text), read_only=True)


def _as_async(fs):  # type: ignore[no-untyped-def]
    from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

    return fs if getattr(fs, "async_impl", False) else AsyncFileSystemWrapper(fs)


def open_cube(url: str | os.PathLike[str], *, validate: bool = True, chunks: object = None) -> xr.Dataset:
    """Open a minicube lazily and check it against the schema.

    `chunks=None` keeps xarray's lazy indexing, so that selecting a crop reads only the chunks it
    touches; pass `chunks={}` for dask arrays on the stored chunks.
    """
    text = normalize(url)
    store = zarr_store(text)
    try:
        with warnings.catch_warnings():
            # Consolidated metadata is optional (v3 stores have none): falling back is expected.
            warnings.filterwarnings("ignore", message=".*consolidated metadata.*", category=RuntimeWarning)
            ds = xr.open_zarr(store, consolidated=None, chunks=chunks, decode_timedelta=False)
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError) as exc:  # type: ignore[attr-defined]
        raise CubeUnreadableError(
            f"{redact(text)}: not a zarr group ({exc.__class__.__name__}: {exc})"
        ) from exc
    try:
        ds = cube_text.decode(ds)
    except (KeyError, UnicodeDecodeError, ValueError) as exc:
        raise CubeUnreadableError(
            f"{redact(text)}: unreadable pair text ({exc.__class__.__name__}: {exc})"
        ) from exc
    if validate:
        validate_cube(ds, source=text)
    ds.encoding["source_url"] = text
    return ds


def validate_cube(ds: xr.Dataset, source: str = "<dataset>") -> None:
    """Raise CubeUnreadableError unless every schema variable is present with its dims and dtype."""
    where = redact(source)
    for dim, kind in schema.COORD_DTYPES.items():
        if dim not in ds.coords:
            raise CubeUnreadableError(f"{where}: missing coordinate {dim!r}")
        if np.dtype(ds[dim].dtype) != np.dtype(kind) and not (
            kind.startswith("datetime64") and ds[dim].dtype.kind == "M"
        ):
            raise CubeUnreadableError(
                f"{where}: coordinate {dim!r} has dtype {ds[dim].dtype}, expected {kind}"
            )
    missing = [name for name in schema.VARIABLES if name not in ds.variables]
    if missing:
        raise CubeUnreadableError(f"{where}: missing variable(s) {', '.join(missing)}")
    for name, var in schema.VARIABLES.items():
        got = ds[name]
        if tuple(got.dims) != var.dims:
            raise CubeUnreadableError(
                f"{where}: variable {name!r} has dims {tuple(got.dims)}, expected {var.dims}"
            )
        if not var.dtype_matches(got.dtype):
            raise CubeUnreadableError(
                f"{where}: variable {name!r} has dtype {got.dtype}, expected {var.dtype}"
            )
    if ds.sizes[schema.LAT] > 1 and not bool(ds[schema.LAT][0] > ds[schema.LAT][-1]):
        raise CubeUnreadableError(f"{where}: latitude must be descending")
    if ds.sizes[schema.LON] > 1 and not bool(ds[schema.LON][0] < ds[schema.LON][-1]):
        raise CubeUnreadableError(f"{where}: longitude must be ascending")


def spatial_ref_attrs() -> dict[str, object]:
    """CF grid-mapping attributes for EPSG:4326, rioxarray style."""
    from pyproj import CRS

    crs = CRS.from_epsg(schema.CRS_EPSG)
    attrs = crs.to_cf()
    attrs["crs_wkt"] = crs.to_wkt()
    attrs["spatial_ref"] = attrs["crs_wkt"]
    return attrs


def grid_coords(lat_max: float, lon_min: float, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a north-up grid at the schema's spacing."""
    step = schema.GRID_SPACING_DEG
    lat = np.round(lat_max - step * (np.arange(height) + 0.5), 9)
    lon = np.round(lon_min + step * (np.arange(width) + 0.5), 9)
    return lat.astype("float64"), lon.astype("float64")


def cube_template(
    frame_id: str,
    primary_dates: Sequence[np.datetime64] | np.ndarray,
    secondary_dates: Sequence[np.datetime64] | np.ndarray,
    latitude: np.ndarray,
    longitude: np.ndarray,
    *,
    lazy: bool = True,
) -> xr.Dataset:
    """An empty cube with every schema variable at its fill value.

    With `lazy=True` the arrays are dask zeros, so that `to_zarr(compute=False)` writes only the
    metadata: workers then fill regions in parallel.
    """
    import dask.array as da

    p = np.asarray(primary_dates, dtype="datetime64[ns]")
    s = np.asarray(secondary_dates, dtype="datetime64[ns]")
    coords = {
        schema.PRIMARY: p,
        schema.SECONDARY: s,
        schema.LAT: np.asarray(latitude, dtype="float64"),
        schema.LON: np.asarray(longitude, dtype="float64"),
    }
    sizes = {
        schema.PRIMARY: p.size,
        schema.SECONDARY: s.size,
        schema.LAT: len(latitude),
        schema.LON: len(longitude),
    }
    data_vars: dict[str, xr.DataArray] = {}
    for name, var in schema.VARIABLES.items():
        shape = tuple(sizes[d] for d in var.dims)
        dtype = var.numpy_dtype(schema.STRING_LENGTHS.get(name, 1))
        fill = fill_value(name)
        if lazy and var.dtype != "str":
            arr = da.full(shape, fill, dtype=dtype, chunks=shape)
        else:
            arr = np.full(shape, fill, dtype=dtype)
        data_vars[name] = xr.DataArray(arr, dims=var.dims, attrs=var.attrs())
    ds = xr.Dataset(data_vars, coords=coords, attrs=schema.cube_attrs(frame_id))
    ds[schema.GRID_MAPPING] = xr.DataArray(np.int64(0), attrs=spatial_ref_attrs())
    ds = ds.set_coords(schema.GRID_MAPPING)
    return ds


def fill_value(name: str) -> object:
    """The value a variable holds where nothing was written: the one encoding of "no product".

    Every float variable is NaN (InSAR and ERA5 alike; a zero inside a product stays LiCSAR's
    no-data pixel), masks hold their background code, flags False, text "". `valid_date_pair`
    says which pairs have a product.
    """
    var = schema.VARIABLES[name]
    if name in schema.MASK_FILL:
        return schema.MASK_FILL[name]
    if var.dtype == "float32":
        return np.float32(np.nan)
    if var.dtype == "bool":
        return False
    if var.dtype == "str":
        return ""
    return 0
