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
    """No usable ERA5 hour for an acquisition (missing, too far, box too small)."""


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


def index_file(url: str) -> Era5File:
    """Index one file by its coordinates (field values are not read)."""
    ds = open_dataset(url, load=False)
    tname = _pick_name(ds, TIME_NAMES, "time", url)
    lat = _pick_name(ds, LAT_NAMES, "latitude", url)
    lon = _pick_name(ds, LON_NAMES, "longitude", url)
    times = np.asarray(ds[tname].values)
    if times.dtype.kind != "M":
        raise Era5Error(f"{storage.redact(url)}: time coordinate {tname!r} is not decoded as datetimes")
    la, lo = np.asarray(ds[lat].values, float), np.asarray(ds[lon].values, float)
    entry = Era5File(
        url=url,
        times=tuple(str(t) for t in times.astype("datetime64[ns]")),
        lat_min=float(la.min()),
        lat_max=float(la.max()),
        lon_min=float(lo.min()),
        lon_max=float(lo.max()),
        names=_field_names(ds, url),
        time_name=tname,
        lat_name=lat,
        lon_name=lon,
    )
    ds.close()
    return entry


def index_folder(url: str) -> tuple[list[Era5File], list[tuple[str, str]]]:
    """Index every `*.nc` under a folder; returns (files, [(url, why unreadable)])."""
    loc = storage.location(url)
    files: list[Era5File] = []
    bad: list[tuple[str, str]] = []
    for path in sorted(loc.fs.find(loc.path)):
        if not path.endswith(".nc"):
            continue
        file_url = path if storage.is_local(loc.url) else f"{storage.protocol_of(loc.url)}://{path}"
        try:
            files.append(index_file(file_url))
        except Era5Error as exc:
            bad.append((file_url, str(exc)))
    return files, bad


def _covers(f: Era5File, grid: Grid) -> bool:
    lat, lon = grid.coords()
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
    for f in files:
        if not _covers(f, grid):
            continue
        times = np.asarray(f.times, dtype="datetime64[ns]")
        if times.size == 0:
            continue
        delta = np.abs((times - when).astype("int64")) / 60e9
        k = int(np.argmin(delta))
        if best is None or delta[k] < best.offset_minutes:
            best = Era5Pick(f.url, k, str(times[k]), float(delta[k]))
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
