"""Independent expectations for ingest tests: read sources with rasterio/xarray/scipy/matplotlib
directly, never through the ingest code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from matplotlib.path import Path as MplPath
from scipy.interpolate import RegularGridInterpolator

from hephaestus.platform import schema

ACTIVITY = {"Mogi": 1, "Dyke": 2, "Sill": 3, "Spheroid": 4, "Earthquake": 5, "Unidentified": 6}
INTENSITY = {"None": -1, "Low": 0, "Medium": 1, "High": 2}


def read_tif(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def polygon_masks(ann: dict, height: int, width: int) -> dict[str, np.ndarray]:
    """Pixel-centre-in-polygon rasterization with matplotlib (independent of rasterio.features)."""
    rows, cols = np.mgrid[0:height, 0:width]
    centres = np.column_stack([cols.ravel() + 0.5, rows.ravel() + 0.5])
    out = {
        "deformation_mask": np.zeros((height, width), "int32"),
        "activity_type_mask": np.zeros((height, width), "int32"),
        "intensity_level_mask": np.full((height, width), -1, "int32"),
    }
    polys = ann["segmentation_mask"]
    n = len(polys)
    acts = ann["activity_type"][:n] if len(ann["activity_type"]) >= n else ann["activity_type"] * n
    ints = ann["intensity_level"][:n] if len(ann["intensity_level"]) >= n else ann["intensity_level"] * n
    for poly, act, inten in zip(polys, acts, ints, strict=True):
        inside = MplPath(np.array(poly).reshape(-1, 2)).contains_points(centres).reshape(height, width)
        quake = act == "Earthquake" or ("Earthquake" in ann["label"] and "Deformation" not in ann["label"])
        out["deformation_mask"][inside] = 2 if quake else 1
        out["activity_type_mask"][inside] = ACTIVITY[act]
        out["intensity_level_mask"][inside] = INTENSITY[inten]
    return out


def center_time(metadata_txt: Path) -> np.timedelta64:
    line = next(x for x in metadata_txt.read_text().splitlines() if x.startswith("center_time="))
    hh, mm, ss = line.split("=", 1)[1].split(":")
    return np.timedelta64(int(round((int(hh) * 3600 + int(mm) * 60 + float(ss)) * 1e6)), "us")


def era5_expected(era5_dir: Path, day: str, ctime: np.timedelta64, lat: np.ndarray, lon: np.ndarray) -> dict:
    """Fields at the nearest hour, bilinear with scipy, from whichever file holds that day."""
    when = np.datetime64(f"{day[:4]}-{day[4:6]}-{day[6:]}", "us") + ctime
    hour = (when + np.timedelta64(30, "m")).astype("datetime64[h]")
    for f in sorted(era5_dir.glob("*.nc")):
        ds = xr.open_dataset(f)
        tname = "valid_time" if "valid_time" in ds.coords else "time"
        times = ds[tname].values.astype("datetime64[h]")
        if hour not in times:
            continue
        lats, lons = ds.latitude.values, ds.longitude.values
        if not (
            lats.min() <= lat.min()
            and lats.max() >= lat.max()
            and lons.min() <= lon.min()
            and lons.max() >= lon.max()
        ):
            continue
        k = int(np.nonzero(times == hour)[0][0])
        out = {}
        for field, short in schema.ERA5_SHORT_NAMES.items():
            name = short if short in ds else field
            values = ds[name].values[k]
            order = np.argsort(lats)
            interp = RegularGridInterpolator((lats[order], lons), values[order].astype("float64"))
            la, lo = np.meshgrid(lat, lon, indexing="ij")
            out[field] = interp(np.column_stack([la.ravel(), lo.ravel()])).reshape(la.shape)
        return out
    raise AssertionError(f"no ERA5 file holds {hour}")


def content_hash(ds: xr.Dataset) -> dict[str, str]:
    """Per-variable SHA-256 of the values (the checksums compared across runs)."""
    out = {}
    for name in sorted(ds.variables):
        values = np.ascontiguousarray(ds[name].values)
        out[name] = hashlib.sha256(values.tobytes() + str(values.dtype).encode()).hexdigest()
    return out


def load_annotations(folder: Path) -> dict[int, dict]:
    return {json.loads(p.read_text())["uniqueID"]: json.loads(p.read_text()) for p in folder.glob("*.json")}
