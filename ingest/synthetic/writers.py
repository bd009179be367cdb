"""Writers of the source products in the real archives' formats, byte-reproducible and atomic.

Every file is written under a temporary name in its final folder and renamed into place, so a
reader never sees half a file. GeoTIFFs: EPSG:4326, north-up, 0.001 deg, deflate, no timestamps.
NetCDF: netCDF4/HDF5 without history or dates in attributes. JSON: fixed field order and format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import netCDF4
import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.crs import CRS
from rasterio.transform import from_origin

from hephaestus.platform.schema import GRID_SPACING_DEG, era5_file_attrs

CRS_4326 = CRS.from_epsg(4326)


def _replace(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def write_geotiff(path: Path, data: NDArray, lat_max: float, lon_min: float, nodata: float | None) -> None:
    """A single-band GeoTIFF on the 0.001 deg grid whose top-left corner is (lon_min, lat_max)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": CRS_4326,
        "transform": from_origin(lon_min, lat_max, GRID_SPACING_DEG, GRID_SPACING_DEG),
        "compress": "deflate",
        "nodata": nodata,
    }
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    _replace(tmp, path)


def write_era5(
    path: Path, times: NDArray, latitude: NDArray, longitude: NDArray, fields: Mapping[str, NDArray]
) -> None:
    """ERA5 single-level NetCDF like the CDS ships it: valid_time (seconds since 1970), latitude
    descending, longitude ascending, float32 fields by short name with long_name and units."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        nc.setncatts(
            {
                "Conventions": "CF-1.7",
                "institution": "European Centre for Medium-Range Weather Forecasts",
                "source": "hephaestus synthetic ERA5 single levels (hourly)",
            }
        )
        nc.createDimension("valid_time", len(times))
        nc.createDimension("latitude", len(latitude))
        nc.createDimension("longitude", len(longitude))
        t = nc.createVariable("valid_time", "i8", ("valid_time",))
        t.setncatts(
            {
                "long_name": "time",
                "standard_name": "time",
                "units": "seconds since 1970-01-01",
                "calendar": "proleptic_gregorian",
            }
        )
        t[:] = times.astype("datetime64[s]").astype(np.int64)
        la = nc.createVariable("latitude", "f8", ("latitude",))
        la.setncatts({"long_name": "latitude", "standard_name": "latitude", "units": "degrees_north"})
        la[:] = latitude
        lo = nc.createVariable("longitude", "f8", ("longitude",))
        lo.setncatts({"long_name": "longitude", "standard_name": "longitude", "units": "degrees_east"})
        lo[:] = longitude
        for name, (long_name, units) in era5_file_attrs().items():
            if name not in fields:  # a field the generator has no physics for yet
                continue
            v = nc.createVariable(
                name,
                "f4",
                ("valid_time", "latitude", "longitude"),
                zlib=True,
                complevel=4,
                fill_value=np.float32(np.nan),
            )
            v.setncatts({"long_name": long_name, "units": units})
            v[:] = fields[name]
    _replace(tmp, path)


def write_json(path: Path, record: Mapping[str, object]) -> None:
    """A JSON document in a fixed format (field order as given, Python's default separators)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(record, ensure_ascii=True, allow_nan=False))
    _replace(tmp, path)


def write_metadata(path: Path, values: Mapping[str, object]) -> None:
    """LiCSAR `metadata.txt`: `key=value` lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    _replace(tmp, path)
