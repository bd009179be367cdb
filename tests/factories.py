"""Seeded small minicubes in the published layout, for tests of every stage that reads cubes.

Independent of ingest on purpose: these cubes are written by hand from known arrays, so tests can
compare what the platform reads with what was written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from hephaestus.platform import cube_text, schema
from hephaestus.platform.cube import cube_template, grid_coords

# Written out literally as an independent expectation: the authors' dataset stacks, per step, phase,
# coherence, DEM, then each ERA5 field at the primary and at the secondary date side by side
# (Orion-AI-Lab/Hephaestus-minicubes; ../shared/reference/minicube-format.md).
AUTHORS_CHANNELS = (
    "insar_difference",
    "insar_coherence",
    "dem",
    "primary_date_total_column_water_vapour",
    "secondary_date_total_column_water_vapour",
    "primary_date_surface_pressure",
    "secondary_date_surface_pressure",
    "primary_date_vertical_integral_of_temperature",
    "secondary_date_vertical_integral_of_temperature",
)


def make_cube_dataset(
    frame_id: str = "001A_00001_000001",
    n_primary: int = 3,
    n_secondary: int = 4,
    height: int = 64,
    width: int = 80,
    seed: int = 0,
    positive_every: int = 3,
    first_id: int = 100,
    lat_max: float = 19.5,
    lon_min: float = -155.6,
) -> xr.Dataset:
    """A dense cube; every `positive_every`-th valid pair has a square deformation mask.
    Its grid starts at (`lat_max`, `lon_min`), 0.001 degree spacing."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2018-01-05", "D")
    primary = start + np.arange(n_primary) * 12
    secondary = start + 6 + np.arange(n_secondary) * 6
    lat, lon = grid_coords(lat_max, lon_min, height, width)
    ds = cube_template(frame_id, primary, secondary, lat, lon, lazy=False)
    shape = (n_primary, n_secondary, height, width)
    ds["insar_difference"].values[:] = rng.uniform(-np.pi, np.pi, shape).astype("float32")
    ds["insar_coherence"].values[:] = rng.integers(0, 256, shape).astype("float32")
    ds["dem"].values[:] = (1000 + 500 * rng.random((height, width))).astype("float32")
    for which in ("primary", "secondary"):
        for f, (mean, std) in zip(schema.ERA5_FIELDS, [(20, 5), (90000, 500), (2.4e6, 1e4)], strict=True):
            ds[schema.era5_variable(which, f)].values[:] = rng.normal(mean, std, shape).astype("float32")
    uid = first_id
    k = 0
    for i in range(n_primary):
        for j in range(n_secondary):
            if secondary[j] <= primary[i]:
                continue
            ds["valid_date_pair"].values[i, j] = True
            ds["unique_id"].values[i, j] = str(uid)
            ds["confidence"].values[i, j] = 0.8
            ds["atmospheric_fringes"].values[i, j] = int(rng.integers(0, 4))
            if k % positive_every == 0:
                r0, c0 = height // 4 + i, width // 4 + j
                ds["deformation_mask"].values[i, j, r0 : r0 + 10, c0 : c0 + 12] = schema.DEFORMATION.code(
                    "Deformation"
                )
                ds["activity_type_mask"].values[i, j, r0 : r0 + 10, c0 : c0 + 12] = schema.ACTIVITY_TYPE.code(
                    "Mogi"
                )
                ds["intensity_level_mask"].values[i, j, r0 : r0 + 10, c0 : c0 + 12] = schema.INTENSITY.code(
                    "Low"
                )
                ds["phase"].values[i, j] = "Unrest"
                ds["caption"].values[i, j] = "A Mogi-type deformation pattern of low intensity."
            else:
                ds["phase"].values[i, j] = "Rest"
                ds["caption"].values[i, j] = "No deformation."
            uid += 1
            k += 1
    return ds


def published_encoding(ds: xr.Dataset) -> dict[str, dict]:
    """The authors' layout: one whole 2-D slice per chunk, scalars per pair, dem in one chunk."""
    enc: dict[str, dict] = {}
    h, w = ds.sizes[schema.LAT], ds.sizes[schema.LON]
    for name, var in schema.VARIABLES.items():
        if var.dims == schema.RASTER_DIMS:
            enc[name] = {"chunks": (1, 1, h, w)}
        elif var.dims == schema.PAIR_DIMS:
            enc[name] = {"chunks": (1, 1)}
        else:
            enc[name] = {"chunks": (h, w)}
    return enc


def write_published_cube(path: Path | str, zarr_format: int = 2, **kwargs: object) -> xr.Dataset:
    """Write a cube as the authors do (zarr v2, whole-slice chunks, fixed-width <U strings); with
    `zarr_format=3` the pair text is stored as numbers, as ingest stores it (platform.cube_text)."""
    ds = make_cube_dataset(**kwargs)  # type: ignore[arg-type]
    write_cube(path, ds, zarr_format)
    return ds


def write_cube(
    path: Path | str, ds: xr.Dataset, zarr_format: int = 2, whole_pair_scalars: bool = False
) -> None:
    """Write a given cube dataset as `write_published_cube` does (any existing cube there is replaced);
    `whole_pair_scalars`: each pair variable in one chunk, as ingest writes them (not one per pair)."""
    stored, encoding = ds, published_encoding(ds)
    if whole_pair_scalars:
        shape = (ds.sizes[schema.PRIMARY], ds.sizes[schema.SECONDARY])
        for name, var in schema.VARIABLES.items():
            if var.dims == schema.PAIR_DIMS:
                encoding[name] = {"chunks": shape}
    if zarr_format == 3:
        stored = cube_text.encode_dataset(ds)
        encoding.pop("caption")
        for name, extra in cube_text.encodings().items():
            encoding[name] = {**encoding.get(name, {}), **extra}
    # zarr 2 (the authors' writer) stores every chunk; zarr 3 skips fill-valued ones unless told
    with zarr.config.set({"array.write_empty_chunks": zarr_format == 2}):
        stored.to_zarr(
            str(path), mode="w", zarr_format=zarr_format, encoding=encoding, consolidated=zarr_format == 2
        )
