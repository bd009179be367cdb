"""`hmc catalog export-authors`: the side files the authors' loader (`InSarDataset` of
Orion-AI-Lab/Hephaestus-minicubes) reads beside the cubes, written from a store's catalog.

Their loader takes `zarr_path` (our `STORE/cubes/`, one `<FRAME>.zarr` each) and three files:
- `timeseries_data`: `quality_timeseries.json`, {frame: {primary YYYYMMDD: {length, secondary_date[],
  uniqueID[]}}} of the usable pairs that have a cube, secondary dates ascending (as in the real file);
- `annotation_path`: one merged JSON object {str(uniqueID): annotation record}, every record with
  the fields of the real per-pair files in their order and types (ints for flags, lists for labels);
  `segmentation_mask` holds the outlines of the cube's deformation mask (pixel-corner polygons,
  flat [x1, y1, x2, y2, ...] as the real files), [] where there is none or no cube;
- `statistics`: `statistics.json`, {variable: {mean, std}} (the store's statistics where the
  catalog has them, else the authors' own).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from hephaestus.catalog.read import read_pairs, read_statistics
from hephaestus.platform import schema, storage
from hephaestus.platform.errors import InputError

QUALITY_FILE = "quality_timeseries.json"
ANNOTATIONS_FILE = "annotations.json"
STATISTICS_FILE = "statistics.json"


class AuthorsExportError(InputError):
    """The catalog cannot be written in the authors' format (a uniqueID given to two pairs)."""


@dataclass(frozen=True)
class AuthorsExport:
    """What was written: file URLs and counts."""

    files: dict[str, str]
    frames: int
    usable_pairs: int
    annotations: int


def _day(value: object) -> str:
    return str(np.datetime64(value, "D")).replace("-", "")


def quality_timeseries(pairs: pa.Table) -> dict[str, dict[str, dict[str, object]]]:
    """The authors' index of usable pairs with a cube, grouped by frame and primary date."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    rows = [r for r in pairs.to_pylist() if r["usable"] and r["cube_url"]]
    rows.sort(key=lambda r: (r["frame_id"], r["primary_date"], r["secondary_date"], r["unique_id"]))
    for r in rows:
        group = out.setdefault(r["frame_id"], {}).setdefault(
            _day(r["primary_date"]), {"length": 0, "secondary_date": [], "uniqueID": []}
        )
        group["secondary_date"].append(_day(r["secondary_date"]))  # type: ignore[union-attr]
        group["uniqueID"].append(int(r["unique_id"]))  # type: ignore[union-attr]
        group["length"] = len(group["uniqueID"])  # type: ignore[arg-type]
    return out


def mask_polygons(mask: np.ndarray) -> list[list[float]]:
    """Outlines of the deformation (code > 0) as flat [x1, y1, ...] pixel-corner rings (x = column)."""
    from rasterio.features import shapes

    hit = (np.asarray(mask) > 0).astype("uint8")
    if not hit.any():
        return []
    out = []
    for geom, value in shapes(hit, mask=hit.astype(bool)):
        if value:
            ring = geom["coordinates"][0]
            out.append([float(c) for point in ring[:-1] for c in point])
    return out


def annotation_record(row: dict, polygons: list[list[float]]) -> dict[str, object]:
    """One pair-index row as a record of the real annotation files (their field order and types)."""
    values: dict[str, object] = {
        "uniqueID": int(row["unique_id"]),
        "frameID": row["frame_id"],
        "primary_date": _day(row["primary_date"]),
        "secondary_date": _day(row["secondary_date"]),
        "label": list(row["label"] or [schema.NEGATIVE_LABEL]),
        "activity_type": list(row["activity_type"] or []),
        "intensity_level": list(row["intensity_level"] or []),
        "phase": row["phase"] or "None",
        # the index stores float32: its shortest repr (0.8, not 0.800000011920929) is the annotators' value
        "confidence": float(str(np.float32(row["confidence"]))) if row["confidence"] is not None else 0.0,
        "segmentation_mask": polygons,
        "caption": row["caption"] or "",
    }
    for key in schema.ANNOTATION_INT_FIELDS:
        values[key] = int(row[key] or 0)
    return {key: values[key] for key in schema.ANNOTATION_FIELDS}


def _polygons_by_pair(rows: list[dict]) -> dict[int, list[list[float]]]:
    """Mask outlines per pair, read from each row's cube (`cube_url` as read_pairs resolves it against the
    store: a copied store reads its own cubes)."""
    from hephaestus.platform.cube import open_cube

    out: dict[int, list[list[float]]] = {}
    by_cube: dict[str, list[dict]] = {}
    for r in rows:
        if r["cube_url"] and r["deformation_pixels"]:
            by_cube.setdefault(r["cube_url"], []).append(r)
    for url, members in by_cube.items():
        ds = open_cube(url)
        for r in members:
            mask = ds["deformation_mask"][int(r["primary_index"]), int(r["secondary_index"])].values
            out[int(r["unique_id"])] = mask_polygons(mask)
    return out


def export_authors(store_url: str | os.PathLike[str], out: str | os.PathLike[str]) -> AuthorsExport:
    """Write the authors' loader files for the store's published catalog into `out`."""
    store, out_url = storage.normalize(store_url), storage.normalize(out)
    pairs = read_pairs(store)
    quality = quality_timeseries(pairs)
    rows = pairs.to_pylist()
    ids = [int(r["unique_id"]) for r in rows]
    if len(set(ids)) != len(ids):
        twice = sorted({u for u in ids if ids.count(u) > 1})[:5]
        raise AuthorsExportError(f"{storage.redact(store)}: uniqueID(s) {twice} name more than one pair")
    polygons = _polygons_by_pair(rows)
    merged = {
        str(int(r["unique_id"])): annotation_record(r, polygons.get(int(r["unique_id"]), [])) for r in rows
    }
    stats = {key: {"mean": mean, "std": std} for key, (mean, std) in read_statistics(store).items()}
    files = {
        QUALITY_FILE: storage.join(out_url, QUALITY_FILE),
        ANNOTATIONS_FILE: storage.join(out_url, ANNOTATIONS_FILE),
        STATISTICS_FILE: storage.join(out_url, STATISTICS_FILE),
    }
    storage.write_text_atomic(files[QUALITY_FILE], json.dumps(quality, indent=1))
    storage.write_text_atomic(files[ANNOTATIONS_FILE], json.dumps(merged))
    storage.write_text_atomic(files[STATISTICS_FILE], json.dumps(stats, indent=4))
    return AuthorsExport(
        files=files,
        frames=len(quality),
        usable_pairs=sum(len(g["uniqueID"]) for f in quality.values() for g in f.values()),  # type: ignore[arg-type]
        annotations=len(merged),
    )
