"""ERA5 single-level NetCDF: index files by time coverage and box, pick the hour nearest to an
acquisition, and resample the fields onto the interferogram grid.

The file name is never trusted: a file is what its coordinates say it is.
"""

from __future__ import annotations

import functools
import io
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import xarray as xr

from hephaestus.platform import schema, storage

from .geotiff import Grid, ProductError

TIME_NAMES = ("valid_time", "time")
LAT_NAMES = ("latitude", "lat")
LON_NAMES = ("longitude", "lon")

MAX_TIME_STEPS = 24 * 366
"""The most time steps an ERA5 file may declare: one leap year of hours (the platform's files hold a day, 24).
A header claiming more is refused before its time axis is read into memory."""
MAX_GRID_POINTS = (1801, 3601)
"""The most (latitudes, longitudes) an ERA5 file may declare: the whole globe at 0.1 deg (ERA5-Land; ERA5 is
0.25 deg, 721 x 1440)."""


class Era5Error(ProductError):
    """No usable ERA5 hour for an acquisition (missing, too far, box too small, file cannot serve)."""

    def __init__(self, message: str, files: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.files = files  # the ERA5 files the message is about (for the pair's quarantine record)


@dataclass(frozen=True)
class Era5File:
    """What one NetCDF file covers, read from its coordinates (no field values)."""

    url: str
    times: tuple[str, ...]  # ISO datetimes (ns), ascending order not assumed
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    names: tuple[tuple[str, str], ...]  # (schema field, variable name in the file)
    time_name: str
    lat_name: str
    lon_name: str
    problem: str = ""  # why this file cannot serve (its coordinates were readable, a field is not)

    @property
    def lon_360(self) -> bool:
        """Longitudes run 0..360 (ERA5's native convention) rather than -180..180."""
        return self.lon_max > 180.0


@dataclass(frozen=True)
class Era5Pick:
    """The hour chosen for one acquisition: file, time index and distance to the acquisition."""

    url: str
    time_index: int
    time: str
    offset_minutes: float


def open_dataset(url: str, load: bool = True) -> xr.Dataset:
    """Open a NetCDF file at any storage URL (bytes through fsspec when remote).

    `load=False` keeps field values on disk: the planner reads coordinates only.
    """
    # no pandas indexes: nothing here selects by label, and building them was most of an open's time
    kw = {"decode_timedelta": False, "create_default_indexes": False}
    try:
        if storage.is_local(url):
            ds = xr.open_dataset(storage.normalize(url), **kw)
        else:
            data = storage.read_bytes(url)
            try:
                ds = xr.open_dataset(io.BytesIO(data), engine="h5netcdf", **kw)
            except (OSError, ValueError):
                ds = xr.open_dataset(io.BytesIO(data), engine="scipy", **kw)
        if load:
            return ds.load()
        return ds
    except (OSError, ValueError, RuntimeError) as exc:
        raise Era5Error(f"unreadable NetCDF {storage.redact(url)}: {exc}") from exc


@dataclass(frozen=True)
class Hour:
    """What resampling needs of one hour of a file: its axes (file order) and the three fields at that hour,
    (lat, lon) ordered, CF-decoded (fill values NaN, scale and offset applied), float64."""

    lat: np.ndarray
    lon: np.ndarray
    fields: dict[str, np.ndarray]


def _cf_decode(var: object, raw: np.ndarray) -> np.ndarray:
    """CF decoding as xarray's default (mask_and_scale): `_FillValue` and `missing_value` become NaN,
    then `scale_factor` and `add_offset` apply."""
    data = np.asarray(raw, dtype="float64")
    attrs = var.ncattrs()  # type: ignore[attr-defined]
    for name in ("_FillValue", "missing_value"):
        if name in attrs:
            for v in np.atleast_1d(var.getncattr(name)):  # type: ignore[attr-defined]
                if not (isinstance(v, float) and np.isnan(v)):
                    data[raw == v] = np.nan
    if "scale_factor" in attrs:
        data *= float(var.getncattr("scale_factor"))  # type: ignore[attr-defined]
    if "add_offset" in attrs:
        data += float(var.getncattr("add_offset"))  # type: ignore[attr-defined]
    return data


def read_hour(entry: Era5File, time_index: int) -> Hour:
    """One hour of an indexed file, read with netCDF4 alone (bytes through fsspec when remote): the axes and
    one time slice of each field, ~1 ms where xarray's open and load of the whole file took ~5."""

    url = entry.url
    try:
        with _open_netcdf(url) as nc:
            nc.set_auto_maskandscale(False)
            v = nc.variables
            fields = {}
            for field, name in entry.names:
                var = v[name]
                index = tuple(time_index if d == entry.time_name else slice(None) for d in var.dimensions)
                dims = [d for d in var.dimensions if d != entry.time_name]
                raw = np.asarray(var[index])
                if dims != [entry.lat_name, entry.lon_name]:
                    raw = raw.transpose([dims.index(entry.lat_name), dims.index(entry.lon_name)])
                fields[field] = _cf_decode(var, raw)
            lat = _cf_decode(v[entry.lat_name], np.asarray(v[entry.lat_name][:]))
            lon = _cf_decode(v[entry.lon_name], np.asarray(v[entry.lon_name][:]))
    except (OSError, KeyError, ValueError, IndexError, RuntimeError) as exc:
        raise Era5Error(f"unreadable NetCDF {storage.redact(url)}: {exc}") from exc
    return Hour(lat, lon, fields)


_HOURS: OrderedDict[tuple[str, str, int], Hour] = OrderedDict()
CACHED_HOURS = 256
"""A worker process keeps its last ERA5 hours (a few KB each) for its next tasks: a date's hour serves many
pairs, and reading it costs about a millisecond."""


def hour_cached(entry: Era5File, time_index: int) -> Hour:
    """`read_hour`, kept per process under the file's version (size and mtime, ETag or generation: a replaced
    file is read again). Callers must not modify the arrays."""
    try:
        key = (entry.url, storage.file_version(entry.url), time_index)
    except OSError as exc:
        raise Era5Error(f"unreadable NetCDF {storage.redact(entry.url)}: {exc}") from exc
    hour = _HOURS.get(key)
    if hour is not None:
        _HOURS.move_to_end(key)
        return hour
    hour = _HOURS[key] = read_hour(entry, time_index)
    while len(_HOURS) > CACHED_HOURS:
        _HOURS.popitem(last=False)
    return hour


def _pick_name(ds: xr.Dataset, names: tuple[str, ...], what: str, url: str) -> str:
    for n in names:
        if n in ds.variables:
            return n
    raise Era5Error(f"{storage.redact(url)}: no {what} coordinate (looked for {', '.join(names)})")


def _field_names(ds: xr.Dataset, url: str) -> tuple[tuple[str, str], ...]:
    out = []
    for field in schema.ERA5_FIELDS:
        short = schema.ERA5_SHORT_NAMES[field]
        found = next((n for n in (short, field) if n in ds.data_vars), None)
        if found is None:  # last resort: the CF long_name CDS writes
            found = next(
                (
                    n
                    for n, v in ds.data_vars.items()
                    if str(v.attrs.get("long_name", "")).lower().replace(" ", "_") == field
                ),
                None,
            )
        if found is None:
            raise Era5Error(f"{storage.redact(url)}: no variable for {field} (short name {short!r})")
        out.append((field, found))
    return tuple(out)


def _field_problem(ds: xr.Dataset, url: str, tname: str, lat: str, lon: str) -> str:
    """Why the file's fields cannot serve a pair ("" when they can): every field must be (time, lat, lon)."""
    try:
        names = _field_names(ds, url)
    except Era5Error as exc:
        return str(exc)
    for field, name in names:
        dims = set(ds[name].dims)
        if dims != {tname, lat, lon}:
            return (
                f"{storage.redact(url)}: variable {name!r} ({field}) has dimensions {tuple(ds[name].dims)}, "
                f"expected ({tname}, {lat}, {lon})"
            )
        if ds[name].dtype.kind not in "fiu":
            return f"{storage.redact(url)}: variable {name!r} ({field}) is not numeric ({ds[name].dtype})"
    return ""


def _limit(dim: str) -> int:
    if dim in LAT_NAMES:
        return MAX_GRID_POINTS[0]
    if dim in LON_NAMES:
        return MAX_GRID_POINTS[1]
    return MAX_TIME_STEPS  # time, and any other axis a field may carry


def check_dimensions(url: str) -> None:
    """Refuse a file whose header declares a dimension past the documented limits, reading the header only
    (xarray's open decodes the time axis: 10 M declared steps cost gigabytes before any check could run)."""

    try:
        with _open_netcdf(url) as nc:
            sizes = {name: len(dim) for name, dim in nc.dimensions.items()}
    except (OSError, ValueError, RuntimeError) as exc:
        raise Era5Error(f"unreadable NetCDF {storage.redact(url)}: {exc}") from exc
    for name, size in sizes.items():
        if size > _limit(name):
            raise Era5Error(
                f"{storage.redact(url)}: dimension {name!r} declares {size} steps, more than the limit "
                f"{_limit(name)}; nothing read"
            )


def index_file(url: str) -> Era5File:
    """Index one file by its coordinates and check that its fields can serve (values are not read).

    A file whose coordinates read but whose fields cannot serve is returned with `problem` set, so that
    a pair needing one of its hours says so instead of "missing hour".
    """
    check_dimensions(url)
    ds = open_dataset(url, load=False)
    tname = _pick_name(ds, TIME_NAMES, "time", url)
    lat = _pick_name(ds, LAT_NAMES, "latitude", url)
    lon = _pick_name(ds, LON_NAMES, "longitude", url)
    times = np.asarray(ds[tname].values)
    if times.dtype.kind != "M":
        raise Era5Error(f"{storage.redact(url)}: time coordinate {tname!r} is not decoded as datetimes")
    for name in (tname, lat, lon):
        if ds[name].ndim != 1 or ds[name].size == 0:
            raise Era5Error(f"{storage.redact(url)}: coordinate {name!r} is not a non-empty 1-D axis")
    la, lo = np.asarray(ds[lat].values, float), np.asarray(ds[lon].values, float)
    if not (np.isfinite(la).all() and np.isfinite(lo).all()):
        raise Era5Error(f"{storage.redact(url)}: latitude or longitude holds non-finite values")
    if la.min() < -90 or la.max() > 90 or lo.min() < -180 or lo.max() > 360:
        raise Era5Error(
            f"{storage.redact(url)}: coordinates outside the globe "
            f"(lat {la.min()}..{la.max()}, lon {lo.min()}..{lo.max()})"
        )
    problem = _field_problem(ds, url, tname, lat, lon)
    entry = Era5File(
        url=url,
        times=tuple(str(t) for t in times.astype("datetime64[ns]")),
        lat_min=float(la.min()),
        lat_max=float(la.max()),
        lon_min=float(lo.min()),
        lon_max=float(lo.max()),
        names=() if problem else _field_names(ds, url),
        time_name=tname,
        lat_name=lat,
        lon_name=lon,
        problem=problem,
    )
    ds.close()
    return entry


def index_folder(url: str) -> tuple[list[Era5File], list[tuple[str, str]], dict[str, str]]:
    """Index every `*.nc` under a folder; returns (files, [(url, why it cannot serve)], {other file: why}).

    Files that cannot serve but whose coordinates read are in both lists (`problem` set): the planner
    quarantines them by name and pairs that need one of their hours say which file.
    """
    urls, ignored = list_folder(url)
    files, bad = index_files(urls)
    return files, bad, ignored


def list_folder(url: str) -> tuple[list[str], dict[str, str]]:
    """The `*.nc` files under a folder in name order, and every other file with why it is not read."""
    loc = storage.location(url)
    urls: list[str] = []
    ignored: dict[str, str] = {}
    for path in sorted(loc.fs.find(loc.path)):
        file_url = path if storage.is_local(loc.url) else f"{storage.protocol_of(loc.url)}://{path}"
        if not path.endswith(".nc"):
            ignored[file_url] = "not a NetCDF (.nc) file"
            continue
        urls.append(file_url)
    return urls, ignored


def index_files(urls: list[str]) -> tuple[list[Era5File], list[tuple[str, str]]]:
    """Index these files (in this order); returns (files, [(url, why it cannot serve)]) as `index_folder`.
    Any slice of a folder's list can be indexed apart (the ingest runner indexes slices in parallel)."""
    files: list[Era5File] = []
    bad: list[tuple[str, str]] = []
    for file_url in urls:
        try:
            entry = index_file(file_url)
        except Exception as exc:  # any file that cannot be indexed is one quarantine record
            reason = str(exc) if isinstance(exc, Era5Error) else f"{type(exc).__name__}: {exc}"
            bad.append((file_url, reason))
            continue
        files.append(entry)
        if entry.problem:
            bad.append((file_url, entry.problem))
    return files, bad


def grid_lon(f: Era5File, lon: np.ndarray) -> np.ndarray:
    """The grid's longitudes in the file's convention (0..360 files get -180..0 mapped to 180..360)."""
    return np.mod(lon, 360.0) if f.lon_360 else lon


def _box(grid: Grid, lon_360: bool) -> tuple[float, float, float, float]:
    """(lat min, lat max, lon min, lon max) of the grid's pixel centres, longitudes in 0..360 or not."""
    lat, lon = grid.coords()
    lon = np.mod(lon, 360.0) if lon_360 else lon
    return float(lat.min()), float(lat.max()), float(lon.min()), float(lon.max())


@functools.lru_cache(maxsize=4096)
def _times(times: tuple[str, ...]) -> np.ndarray:
    return np.asarray(times, dtype="datetime64[ns]")


def nearest_hour(
    files: list[Era5File], grid: Grid, when: np.datetime64, max_offset_minutes: float
) -> Era5Pick:
    """The hour nearest to `when` among files whose box covers the grid; Era5Error when none is near enough."""
    when = np.datetime64(when, "ns")
    boxes = {lon_360: _box(grid, lon_360) for lon_360 in (False, True)}  # once, not once a file
    best: Era5Pick | None = None
    unusable: list[Era5File] = []
    for f in files:
        la0, la1, lo0, lo1 = boxes[f.lon_360]
        if not (f.lat_min <= la0 and f.lat_max >= la1 and f.lon_min <= lo0 and f.lon_max >= lo1):
            continue
        times = _times(f.times)
        if times.size == 0:
            continue
        delta = np.abs((times - when).astype("int64")) / 60e9
        k = int(np.argmin(delta))
        if f.problem:
            if delta[k] <= max_offset_minutes:
                unusable.append(f)
            continue
        if best is None or delta[k] < best.offset_minutes:
            best = Era5Pick(f.url, k, str(times[k]), float(delta[k]))
    if unusable and (best is None or best.offset_minutes > max_offset_minutes):
        f = unusable[0]
        raise Era5Error(
            f"ERA5 file {storage.redact(f.url)} holds the hour for {str(when)[:19]} but cannot serve "
            f"(quarantined): {f.problem}",
            files=(f.url,),
        )
    if best is None:
        raise Era5Error(f"no ERA5 file covers the frame box {grid.bounds} for {when}")
    if best.offset_minutes > max_offset_minutes:
        # name the file holding the nearest hour: the one to fix when its time axis is wrong
        raise Era5Error(
            f"missing ERA5 hour for {str(when)[:19]}: nearest is {best.time[:19]} in "
            f"{storage.redact(best.url)} ({best.offset_minutes:.0f} min away, limit {max_offset_minutes:.0f})",
            files=(best.url,),
        )
    return best


def _axis_weights(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Linear interpolation along one axis as a (len(dst), len(src)) matrix: two weights a row, summing to
    one, for the neighbours in the ascending `src`; a NaN row outside `src`'s range (as xarray's and
    scipy's linear interpolation: no extrapolation)."""
    n = src.size
    lo = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, max(n - 2, 0))
    hi = np.minimum(lo + 1, n - 1)
    span = src[hi] - src[lo]
    w = np.zeros(dst.shape)
    np.divide(dst - src[lo], span, out=w, where=span > 0)
    rows = np.arange(dst.size)
    m = np.zeros((dst.size, n))
    np.add.at(m, (rows, lo), 1.0 - w)
    np.add.at(m, (rows, hi), w)
    m[(dst < src[0]) | (dst > src[-1])] = np.nan
    return m


def resample(ds: xr.Dataset, entry: Era5File, time_index: int, grid: Grid) -> dict[str, np.ndarray]:
    """`resample_hour` of an opened dataset's hour (the same values `read_hour` reads from the file)."""
    names = dict(entry.names)
    fields = {
        field: np.asarray(
            ds[names[field]]
            .isel({entry.time_name: time_index})
            .transpose(entry.lat_name, entry.lon_name)
            .values,
            dtype="float64",
        )
        for field in schema.ERA5_FIELDS
    }
    lat = np.asarray(ds[entry.lat_name].values, dtype="float64")
    lon = np.asarray(ds[entry.lon_name].values, dtype="float64")
    return resample_hour(Hour(lat, lon, fields), entry, time_index, grid)


def resample_hour(hour: Hour, entry: Era5File, time_index: int, grid: Grid) -> dict[str, np.ndarray]:
    """The three fields at one hour, bilinearly interpolated to the grid's pixel centres (float32).

    Bilinear on a regular lat/lon grid is separable: grid = Wlat @ field @ Wlon.T with two weights per row
    (`_axis_weights`), a few small matrix products (xarray's `interp` spent ~20 ms a field in bookkeeping,
    more than the arithmetic). Pixels outside the file's box come out NaN and are refused below, as before."""
    lat, lon = grid.coords()
    lon = grid_lon(entry, lon)
    src_lat, src_lon = hour.lat, hour.lon
    lat_order = np.argsort(src_lat, kind="stable")
    lon_order = np.argsort(src_lon, kind="stable")
    w_lat = _axis_weights(src_lat[lat_order], np.asarray(lat, dtype="float64"))
    w_lon = _axis_weights(src_lon[lon_order], np.asarray(lon, dtype="float64"))
    out: dict[str, np.ndarray] = {}
    for field in schema.ERA5_FIELDS:
        values = hour.fields[field]
        res = (w_lat @ values[np.ix_(lat_order, lon_order)] @ w_lon.T).astype("float32")
        if not np.isfinite(res).all():
            raise Era5Error(
                f"{storage.redact(entry.url)}: {field} has gaps over the frame at {entry.times[time_index]}"
            )
        out[field] = res
    return out


def _open_netcdf(url: str):  # type: ignore[no-untyped-def]
    """A netCDF4 Dataset of a local file (opened in place) or of a remote one (read into memory)."""
    import netCDF4

    if storage.is_local(url):
        return netCDF4.Dataset(storage.normalize(url))
    return netCDF4.Dataset("era5.nc", memory=storage.read_bytes(url))
