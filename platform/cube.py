"""Open, check and lay out minicubes, whatever the store: zarr v2 or v3, directory or `.zarr.zip`, any fsspec URL."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import xarray as xr
import zarr
import zarr.errors
import zarr.storage

from hephaestus.platform import cube_text, schema, storage
from hephaestus.platform.errors import InputError
from hephaestus.platform.storage import normalize, redact

FINGERPRINT_ATTR: Final = "hmc_ingest_fingerprint"
"""Root attribute: the fingerprint of the ingest plan a cube was built (or last grown) from."""
VERSION_ATTR: Final = "hmc_cube_version"
"""Root attribute: the cube's version token (see `cube_version`)."""
HISTORY_ATTR: Final = "hmc_cube_history"
"""Root attribute: the version tokens this cube grew from by appends, oldest first."""


class CubeUnreadableError(InputError):
    """A cube cannot be opened or read, or is not a Hephaestus minicube: names the cube and what is wrong.

    The one "cube unreadable" error of every stage (ingest's checks, the catalog's scan, the loader).
    """


CHECKSUM_MISMATCH: Final = "checksum mismatch (the stored bytes are damaged)"
"""How every reader of the platform words a chunk that fails its checksum."""


def read_failure(exc: BaseException) -> str:
    """What went wrong reading a cube, in one line: zarr's crc32c codec ("Stored and computed checksum
    do not match ...") as CHECKSUM_MISMATCH, anything else as its type and message."""
    text = " ".join(str(exc).split())
    if "checksum do not match" in text or "checksum mismatch" in text:
        return CHECKSUM_MISMATCH
    return f"{exc.__class__.__name__}: {text}"


def zarr_store(url: str, s3_client: str | None = None) -> zarr.abc.store.Store:
    """A read-only zarr store for a directory or `.zip` at any storage URL (what open_cube reads through).

    The URL's storage backend picks the store (`Backend.zarr_store`); `s3_client` is the read client where
    a backend has a choice (s3://: "obstore" or "fsspec", see `storage.s3_client`).
    """
    text = normalize(url)
    return storage.backend_for(text).zarr_store(text, s3_client)


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
    """Raise CubeUnreadableError unless the cube fits the schema: its schema version of this major
    version, every variable it must hold present (required ones, and optional ones its version has),
    and every schema variable it holds with the schema's dims and dtype. A cube written before an
    optional variable existed lacks it and is accepted: readers treat the variable as absent."""
    where = redact(source)
    version = _schema_version(ds, where)
    for dim, kind in schema.COORD_DTYPES.items():
        if dim not in ds.coords:
            raise CubeUnreadableError(f"{where}: missing coordinate {dim!r}")
        if np.dtype(ds[dim].dtype) != np.dtype(kind) and not (
            kind.startswith("datetime64") and ds[dim].dtype.kind == "M"
        ):
            raise CubeUnreadableError(
                f"{where}: coordinate {dim!r} has dtype {ds[dim].dtype}, expected {kind}"
            )
    missing = [
        name
        for name, var in schema.VARIABLES.items()
        if var.expected_in(version) and name not in ds.variables
    ]
    if missing:
        raise CubeUnreadableError(f"{where}: missing variable(s) {', '.join(missing)}")
    for name, var in schema.VARIABLES.items():
        if name not in ds.variables:
            continue  # an optional variable the cube predates
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


def _schema_version(ds: xr.Dataset, where: str) -> str:
    """The cube's schema version, refused when unreadable or of another major version than this platform's."""
    version = schema.schema_version(ds.attrs)
    try:
        major = schema.version_tuple(version)[0]
    except ValueError as exc:
        raise CubeUnreadableError(f"{where}: {exc}") from None
    ours = schema.version_tuple(schema.SCHEMA_VERSION)[0]
    if major != ours:
        raise CubeUnreadableError(
            f"{where}: written with schema {version}; this platform reads schema {ours}.x "
            f"(it writes {schema.SCHEMA_VERSION})"
        )
    return version


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
            # named by what fixes its content (dask would hash the arguments for the name: ~3 ms an array)
            key = f"hmc-fill-{name}-{'x'.join(map(str, shape))}-{np.dtype(dtype).str}-{fill}"
            arr = da.full(shape, fill, dtype=dtype, chunks=shape, name=key)
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


# ---------------------------------------------------------------------------------------------
# Cube versions: what a catalog Item records so that a training run can be reproduced from it
# ---------------------------------------------------------------------------------------------
def version_token(fingerprint: str) -> str:
    """The version token of a cube whose content the ingest plan `fingerprint` describes.

    Deterministic: the same sources and settings give the same token. Written into the root metadata
    together with the cube's shape (the append commit, see ingest/append.py), so a reader that opened
    one consistent view of a cube reads the token of exactly that view.
    """
    return "cv-" + hashlib.sha256(f"hephaestus-cube:{fingerprint}".encode()).hexdigest()[:20]


def dataset_version(attrs: Mapping[str, object] | xr.Dataset) -> str | None:
    """The version token of an opened cube (its root attributes); None for a cube no ingest wrote.

    Read it from the dataset you read pairs from, not from the URL a moment later: an append in
    between would give the token of another view. Cubes ingested before tokens existed carry only
    the plan fingerprint, from which their token is derived the same way.
    """
    if isinstance(attrs, xr.Dataset):
        attrs = attrs.attrs
    token = attrs.get(VERSION_ATTR)
    if token:
        return str(token)
    fingerprint = attrs.get(FINGERPRINT_ATTR)
    return version_token(str(fingerprint)) if fingerprint else None


def dataset_history(attrs: Mapping[str, object] | xr.Dataset) -> tuple[str, ...]:
    """The versions an opened cube grew from by appends (oldest first; its own token not included)."""
    if isinstance(attrs, xr.Dataset):
        attrs = attrs.attrs
    history = attrs.get(HISTORY_ATTR) or []
    return tuple(str(t) for t in history) if isinstance(history, list | tuple) else ()


def cube_attrs(url: str | os.PathLike[str]) -> dict[str, object]:
    """The root attributes of a cube, reading only its root metadata (consolidated when present)."""
    text = normalize(url)
    try:
        return dict(zarr.open_group(zarr_store(text), mode="r").attrs)
    except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError) as exc:  # type: ignore[attr-defined]
        raise CubeUnreadableError(
            f"{redact(text)}: not a zarr group ({exc.__class__.__name__}: {exc})"
        ) from exc


def cube_version(url: str | os.PathLike[str]) -> str | None:
    """The version token of the cube at `url` as a reader sees it now (one small metadata read).

    The token changes whenever the cube's content changes: an append gives a new token and records
    the old one in the history; a rebuild gives a new token and an empty history.
    """
    return dataset_version(cube_attrs(url))


def descends_from(attrs: Mapping[str, object] | xr.Dataset, token: str) -> bool:
    """Whether an opened cube is the version `token` or grew from it by appends only.

    Appends never change a published pair (tested by checksums), so every pair a catalog of version
    `token` lists reads the same bytes from such a cube: a run trained on that catalog reproduces.
    """
    return dataset_version(attrs) == token or token in dataset_history(attrs)
