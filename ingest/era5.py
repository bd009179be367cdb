"""ERA5 single-level NetCDF: index files by time coverage and box, pick the hour nearest to an
acquisition, and resample the fields onto the interferogram grid.

The file name is never trusted: a file is what its coordinates say it is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import xarray as xr

from hephaestus.platform import schema, storage

from .geotiff import Grid, ProductError

TIME_NAMES = ("valid_time", "time")
LAT_NAMES = ("latitude", "lat")
LON_NAMES = ("longitude", "lon")


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
    try:
        if storage.is_local(url):
            ds = xr.open_dataset(storage.normalize(url), decode_timedelta=False)
        else:
            data = storage.read_bytes(url)
            try:
                ds = xr.open_dataset(io.BytesIO(data), engine="h5netcdf", decode_timedelta=False)
            except (OSError, ValueError):
                ds = xr.open_dataset(io.BytesIO(data), engine="scipy", decode_timedelta=False)
        if load:
            return ds.load()
        return ds
    except (OSError, ValueError, RuntimeError) as exc:
        raise Era5Error(f"unreadable NetCDF {storage.redact(url)}: {exc}") from exc


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


def index_file(url: str) -> Era5File:
    """Index one file by its coordinates and check that its fields can serve (values are not read).

    A file whose coordinates read but whose fields cannot serve is returned with `problem` set, so that
    a pair needing one of its hours says so instead of "missing hour".
    """
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
    loc = storage.location(url)
    files: list[Era5File] = []
    bad: list[tuple[str, str]] = []
    ignored: dict[str, str] = {}
    for path in sorted(loc.fs.find(loc.path)):
        file_url = path if storage.is_local(loc.url) else f"{storage.protocol_of(loc.url)}://{path}"
        if not path.endswith(".nc"):
            ignored[file_url] = "not a NetCDF (.nc) file"
            continue
        try:
            entry = index_file(file_url)
        except Exception as exc:  # any file that cannot be indexed is one quarantine record
            reason = str(exc) if isinstance(exc, Era5Error) else f"{type(exc).__name__}: {exc}"
            bad.append((file_url, reason))
            continue
        files.append(entry)
        if entry.problem:
            bad.append((file_url, entry.problem))
    return files, bad, ignored


def grid_lon(f: Era5File, lon: np.ndarray) -> np.ndarray:
    """The grid's longitudes in the file's convention (0..360 files get -180..0 mapped to 180..360)."""
    return np.mod(lon, 360.0) if f.lon_360 else lon


def _covers(f: Era5File, grid: Grid) -> bool:
    lat, lon = grid.coords()
    lon = grid_lon(f, lon)
    return (
        f.lat_min <= lat.min()
        and f.lat_max >= lat.max()
        and f.lon_min <= lon.min()
        and f.lon_max >= lon.max()
    )


def nearest_hour(
    files: list[Era5File], grid: Grid, when: np.datetime64, max_offset_minutes: float
) -> Era5Pick:
    """The hour nearest to `when` among files whose box covers the grid; Era5Error when none is near enough."""
    when = np.datetime64(when, "ns")
    best: Era5Pick | None = None
    unusable: list[Era5File] = []
    for f in files:
        if not _covers(f, grid):
            continue
        times = np.asarray(f.times, dtype="datetime64[ns]")
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
        raise Era5Error(
            f"missing ERA5 hour for {str(when)[:19]}: nearest is {best.time[:19]} "
            f"({best.offset_minutes:.0f} min away, limit {max_offset_minutes:.0f})"
        )
    return best


def resample(ds: xr.Dataset, entry: Era5File, time_index: int, grid: Grid) -> dict[str, np.ndarray]:
    """The three fields at one hour, bilinearly interpolated to the grid's pixel centres (float32)."""
    lat, lon = grid.coords()
    lon = grid_lon(entry, lon)
    names = dict(entry.names)
    out: dict[str, np.ndarray] = {}
    for field in schema.ERA5_FIELDS:
        da = ds[names[field]].isel({entry.time_name: time_index})
        da = da.sortby(entry.lat_name).sortby(entry.lon_name)
        res = da.interp({entry.lat_name: lat, entry.lon_name: lon}, method="linear")
        values = np.asarray(res.transpose(entry.lat_name, entry.lon_name).values, dtype="float32")
        if not np.isfinite(values).all():
            raise Era5Error(
                f"{storage.redact(entry.url)}: {field} has gaps over the frame at {entry.times[time_index]}"
            )
        out[field] = values
    return out
