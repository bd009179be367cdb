"""Tiny hand-made source products for ingest tests, written straight from the BRIEF contract
(independent of the synthetic generator): LiCSAR GeoTIFFs, ERA5 NetCDF, annotation JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from rasterio.transform import from_origin

STEP = 0.001
CENTER_TIME = "05:20:31.250000"  # 05:20:31 UTC: nearest ERA5 hour is 05:00


@dataclass
class SourceFrame:
    frame_id: str
    lat_max: float
    lon_min: float
    height: int
    width: int
    pairs: list[tuple[str, str, int]] = field(default_factory=list)  # (d1, d2, uniqueID)


def write_tif(
    path: Path,
    data: np.ndarray,
    lat_max: float,
    lon_min: float,
    nodata=None,
    crs="EPSG:4326",
    step: float = STEP,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = dict(
        driver="GTiff",
        height=data.shape[0],
        width=data.shape[1],
        count=1,
        dtype=data.dtype.name,
        crs=crs,
        transform=from_origin(lon_min, lat_max, step, step),
    )
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def annotation(
    uid: int, frame: str, d1: str, d2: str, positive: bool, height: int, width: int, rng: np.random.Generator
) -> dict:
    polys, acts, ints = [], [], []
    if positive:
        for k in range(2):
            cx, cy = rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height
            r = rng.uniform(4, min(height, width) / 5)
            ang = np.sort(rng.uniform(0, 2 * np.pi, 7))
            pts = []
            for a in ang:
                pts += [float(cx + r * np.cos(a)), float(cy + r * np.sin(a))]
            polys.append(pts)
            acts.append(["Mogi", "Sill"][k])
            ints.append(["High", "Low"][k])
    return {
        "uniqueID": uid,
        "frameID": frame,
        "primary_date": d1,
        "secondary_date": d2,
        "corrupted": 0,
        "processing_error": 0,
        "glacier_fringes": 0,
        "orbital_fringes": 0,
        "atmospheric_fringes": int(rng.integers(0, 4)),
        "low_coherence": int(rng.integers(0, 2)),
        "no_info": 0,
        "image_artifacts": 0,
        "label": ["Deformation"] if positive else ["Non_Deformation"],
        "activity_type": acts,
        "intensity_level": ints,
        "phase": "Unrest" if positive else "Rest",
        "confidence": 0.8,
        "segmentation_mask": polys,
        "is_crowd": 0,
        "caption": f"pair {uid} of {frame}" + (" with deformation" if positive else ""),
    }


def write_era5(
    path: Path,
    frame: SourceFrame,
    day: str,
    rng: np.random.Generator,
    time_name="valid_time",
    long_names=False,
    hours=range(24),
) -> None:
    lat = np.arange(np.ceil((frame.lat_max + 0.5) * 4) / 4, frame.lat_max - frame.height * STEP - 0.5, -0.25)
    lon = np.arange(np.floor((frame.lon_min - 0.5) * 4) / 4, frame.lon_min + frame.width * STEP + 0.5, 0.25)
    t = np.datetime64(f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00", "ns") + np.array(list(hours)) * np.timedelta64(
        1, "h"
    )
    shape = (t.size, lat.size, lon.size)
    names = {
        "tcwv": "total_column_water_vapour",
        "sp": "surface_pressure",
        "vit": "vertical_integral_of_temperature",
    }
    base = {"tcwv": (20, 5), "sp": (90000, 800), "vit": (2.4e6, 2e4)}
    data = {}
    for short, (m, s) in base.items():
        name = names[short] if long_names else short
        data[name] = (
            (time_name, "latitude", "longitude"),
            (m + s * rng.standard_normal(shape)).astype("float32"),
            {"long_name": names[short].replace("_", " "), "units": "x"},
        )
    ds = xr.Dataset(data, coords={time_name: t, "latitude": lat, "longitude": lon})
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path)


def write_frame(
    root: Path,
    frame: SourceFrame,
    seed: int,
    positive_every: int = 2,
    old_coherence: set | None = None,
    era5: bool = True,
) -> dict[int, dict]:
    """LiCSAR folder + ERA5 files + annotations of one frame; returns the annotations by uniqueID."""
    rng = np.random.default_rng(seed)
    f = frame.frame_id
    meta = root / "licsar" / f / "metadata"
    hgt = (500 + 1000 * rng.random((frame.height, frame.width))).astype("float32")
    write_tif(meta / f"{f}.geo.hgt.tif", hgt, frame.lat_max, frame.lon_min)
    for c in "ENU":
        write_tif(
            meta / f"{f}.geo.{c}.tif",
            rng.random((frame.height, frame.width)).astype("float32"),
            frame.lat_max,
            frame.lon_min,
        )
    (meta / "metadata.txt").write_text(
        f"master={frame.pairs[0][0]}\ncenter_time={CENTER_TIME}\nheading=-10.5\navg_incidence_angle=39.1\n"
    )
    anns = {}
    days = set()
    for k, (d1, d2, uid) in enumerate(frame.pairs):
        folder = root / "licsar" / f / "interferograms" / f"{d1}_{d2}"
        pha = rng.uniform(-np.pi, np.pi, (frame.height, frame.width)).astype("float32")
        pha[:2, :3] = 0.0  # some no-data
        write_tif(folder / f"{d1}_{d2}.geo.diff_pha.tif", pha, frame.lat_max, frame.lon_min, nodata=0)
        if old_coherence and uid in old_coherence:
            cc = rng.random((frame.height, frame.width)).astype("float32")
        else:
            cc = rng.integers(0, 256, (frame.height, frame.width)).astype("uint8")
        write_tif(folder / f"{d1}_{d2}.geo.cc.tif", cc, frame.lat_max, frame.lon_min)
        a = annotation(uid, f, d1, d2, k % positive_every == 0, frame.height, frame.width, rng)
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"{uid}.json").write_text(json.dumps(a))
        anns[uid] = a
        days.update((d1, d2))
    if era5:
        for day in sorted(days):
            write_era5(root / "era5" / f"era5_{f}_{day}.nc", frame, day, rng)
    return anns


def default_frames(height: int = 48, width: int = 64) -> list[SourceFrame]:
    return [
        SourceFrame(
            "010A_00001_000001",
            19.60,
            -155.40,
            height,
            width,
            [
                ("20200101", "20200113", 101),
                ("20200101", "20200125", 102),
                ("20200113", "20200125", 103),
                ("20200113", "20200206", 104),
                ("20200125", "20200206", 105),
            ],
        ),
        SourceFrame(
            "020D_00002_000002",
            37.80,
            14.90,
            height,
            width,
            [("20200105", "20200117", 201), ("20200105", "20200129", 202), ("20200117", "20200129", 203)],
        ),
    ]


def write_sources(
    root: Path, frames: list[SourceFrame] | None = None, seed: int = 0, **kwargs
) -> dict[int, dict]:
    anns = {}
    for k, fr in enumerate(frames or default_frames()):
        anns.update(write_frame(root, fr, seed + k, **kwargs))
    return anns
