"""Index rows and cubes for loader tests, built by hand from factory cubes (not by the catalog).

Boxes and labels are computed here with plain numpy from the arrays the factory wrote, so the
loader is checked against values it did not produce.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import xarray as xr
from zarr.codecs import BloscCodec

from hephaestus.platform import schema

from factories import AUTHORS_CHANNELS, make_cube_dataset, published_encoding


def platform_encoding(ds: xr.Dataset, tile: int = 32) -> dict[str, dict]:
    """The platform layout as the loader expects it: zarr v3, (1, 1, tile, tile) chunks, blosc lz4."""
    codec = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    enc: dict[str, dict] = {}
    for name, var in schema.VARIABLES.items():
        if var.dims == schema.RASTER_DIMS:
            enc[name] = {"chunks": (1, 1, tile, tile), "compressors": [codec]}
        elif var.dims == schema.GRID_DIMS:
            enc[name] = {"chunks": (tile, tile), "compressors": [codec]}
        else:
            enc[name] = {"chunks": (1, 1)}
    return enc


def write_cube(ds: xr.Dataset, path: Path | str, layout: str, tile: int = 32) -> str:
    """Write `ds` in the "published" (v2, whole slices) or "platform" (v3, tiles) layout."""
    if layout == "published":
        ds.to_zarr(str(path), mode="w", zarr_format=2, encoding=published_encoding(ds), consolidated=True)
    elif layout == "platform":
        ds.to_zarr(
            str(path), mode="w", zarr_format=3, encoding=platform_encoding(ds, tile), consolidated=False
        )
    else:
        raise ValueError(layout)
    return str(path)


def make_cube(
    tmp_path: Path, layout: str, frame_id: str = "001A_00001_000001", tile: int = 32, **kw
) -> tuple[xr.Dataset, str]:
    ds = make_cube_dataset(frame_id=frame_id, **kw)
    url = write_cube(ds, tmp_path / f"{frame_id}_{layout}.zarr", layout, tile)
    return ds, url


def pair_rows(ds: xr.Dataset, cube_url: str, split: str = "train") -> pa.Table:
    """One row per valid pair, with the BRIEF's pair-index columns the loader reads."""
    rows: dict[str, list] = {
        k: []
        for k in (
            "unique_id",
            "frame_id",
            "split",
            "positive",
            "usable",
            "has_product",
            "cube_url",
            "primary_index",
            "secondary_index",
            "height",
            "width",
            "mask_row_min",
            "mask_row_max",
            "mask_col_min",
            "mask_col_max",
        )
    }
    valid = ds["valid_date_pair"].values
    defo = ds["deformation_mask"].values
    for i, j in zip(*np.nonzero(valid), strict=True):
        m = defo[i, j] != 0
        rr, cc = np.nonzero(m)
        rows["unique_id"].append(int(ds["unique_id"].values[i, j]))
        rows["frame_id"].append(ds.attrs["frame_id"])
        rows["split"].append(split)
        rows["positive"].append(bool(m.any()))
        rows["usable"].append(True)
        rows["has_product"].append(True)
        rows["cube_url"].append(cube_url)
        rows["primary_index"].append(int(i))
        rows["secondary_index"].append(int(j))
        rows["height"].append(defo.shape[-2])
        rows["width"].append(defo.shape[-1])
        for key, val in zip(
            ("mask_row_min", "mask_row_max", "mask_col_min", "mask_col_max"),
            (rr.min(), rr.max(), cc.min(), cc.max()) if m.any() else (None,) * 4,
            strict=True,
        ):
            rows[key].append(None if val is None else int(val))
    schema_ = pa.schema(
        [
            ("unique_id", pa.int64()),
            ("frame_id", pa.string()),
            ("split", pa.string()),
            ("positive", pa.bool_()),
            ("usable", pa.bool_()),
            ("has_product", pa.bool_()),
            ("cube_url", pa.string()),
            ("primary_index", pa.int32()),
            ("secondary_index", pa.int32()),
            ("height", pa.int32()),
            ("width", pa.int32()),
            ("mask_row_min", pa.int32()),
            ("mask_row_max", pa.int32()),
            ("mask_col_min", pa.int32()),
            ("mask_col_max", pa.int32()),
        ]
    )
    return pa.Table.from_pydict(rows, schema=schema_)


def series_rows(pairs: pa.Table, length: int = 3, split: str = "train") -> pa.Table:
    """Series of up to `length` pairs sharing a primary date, ordered by secondary index."""
    by_primary: dict[tuple[str, int], list[tuple[int, int, bool]]] = {}
    frames = {}
    for r in pairs.to_pylist():
        frames[r["cube_url"]] = r["frame_id"]
        by_primary.setdefault((r["cube_url"], r["primary_index"]), []).append(
            (r["secondary_index"], r["unique_id"], r["positive"])
        )
    out: dict[str, list] = {
        "series_id": [],
        "frame_id": [],
        "split": [],
        "positive": [],
        "pair_ids": [],
        "length": [],
        "cube_url": [],
    }
    for (url, p), members in sorted(by_primary.items()):
        members = sorted(members)[:length]
        out["series_id"].append(f"s{p}_{url[-12:]}")
        out["frame_id"].append(frames[url])
        out["split"].append(split)
        out["positive"].append(any(m[2] for m in members))
        out["pair_ids"].append([m[1] for m in members])
        out["length"].append(len(members))
        out["cube_url"].append(url)
    return pa.Table.from_pydict(
        out,
        schema=pa.schema(
            [
                ("series_id", pa.string()),
                ("frame_id", pa.string()),
                ("split", pa.string()),
                ("positive", pa.bool_()),
                ("pair_ids", pa.list_(pa.int64())),
                ("length", pa.int32()),
                ("cube_url", pa.string()),
            ]
        ),
    )


def channels_of(atmosphere: bool) -> tuple[str, ...]:
    return AUTHORS_CHANNELS if atmosphere else AUTHORS_CHANNELS[:3]


STATS = {
    "insar_difference": (0.1, 1.5),
    "insar_coherence": (100.0, 70.0),
    "dem": (1200.0, 150.0),
    "total_column_water_vapour": (20.0, 5.0),
    "surface_pressure": (90000.0, 500.0),
    "vertical_integral_of_temperature": (2.4e6, 1e4),
}
"""Test statistics, chosen so z-scores are O(1) for the factory's value ranges."""


def expected_image(
    cube: xr.Dataset, steps, r0: int, c0: int, k: int, atmosphere: bool, stats=None
) -> np.ndarray:  # type: ignore[no-untyped-def]
    """(value - mean) / std of each channel, per step, from xarray; NaN and phase 0 -> 0; pad 0."""
    stats = stats or STATS
    h, w = cube.sizes[schema.LAT], cube.sizes[schema.LON]
    out = []
    for p, s in steps:
        for var in channels_of(atmosphere):
            da = cube[var] if var == "dem" else cube[var].isel(primary_date=p, secondary_date=s)
            vals = da.values[r0 : min(r0 + k, h), c0 : min(c0 + k, w)].astype(np.float64)
            mean, std = stats[schema.statistics_key(var)]
            z = (vals - mean) / std
            z[~np.isfinite(z)] = 0.0
            if var == "insar_difference":
                z[vals == 0] = 0.0
            full = np.zeros((k, k))
            full[: z.shape[0], : z.shape[1]] = z
            out.append(full)
    return np.stack(out)


def expected_mask(cube: xr.Dataset, steps, r0: int, c0: int, k: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.zeros((k, k), dtype=np.int64)
    for p, s in steps:
        m = (
            cube["deformation_mask"].isel(primary_date=p, secondary_date=s).values[r0 : r0 + k, c0 : c0 + k]
            != 0
        )
        out[: m.shape[0], : m.shape[1]] |= m
    return out
