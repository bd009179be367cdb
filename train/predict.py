"""Inference on one pair of a cube with a trained checkpoint: a georeferenced score or mask raster.

The input is built exactly as the loader builds it (same channels, z-score statistics kept in the
checkpoint, no-data to 0), over the whole frame in overlapping windows of the training crop size.
Segmenters give a per-pixel deformation probability and mask; classifiers a window score map and
the frame's score (the highest window score).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from hephaestus.platform import schema, storage
from hephaestus.platform.cube import open_cube, spatial_ref_attrs
from hephaestus.platform.errors import InputError
from hephaestus.platform.layout import CheckpointFiles
from hephaestus.train.config import RunConfig
from hephaestus.train.metrics import deformation_probability
from hephaestus.train.models import build_model


class PredictError(InputError):
    """The checkpoint, cube or pair cannot be used: names which and why."""


@dataclass
class LoadedModel:
    module: torch.nn.Module
    run: RunConfig
    statistics: dict[str, tuple[float, float]]
    in_channels: int


def resolve_checkpoint(url: str) -> str:
    """A checkpoint folder, or a run folder (RESULTS/checkpoints/<run_id>): then its newest checkpoint."""
    loc = storage.location(url)
    if not loc.fs.isdir(loc.path):
        raise PredictError(f"{storage.redact(url)}: checkpoint folder not found")
    if loc.fs.exists(f"{loc.path.rstrip('/')}/{CheckpointFiles.RUN}"):
        return url
    names = sorted(
        p.rstrip("/").rsplit("/", 1)[-1]
        for p in loc.fs.ls(loc.path, detail=False)
        if p.rstrip("/").rsplit("/", 1)[-1].startswith("checkpoint_") and loc.fs.isdir(p)
    )
    if not names:
        raise PredictError(f"{storage.redact(url)}: neither a checkpoint nor a run folder with checkpoints")
    return storage.join(url, names[-1])  # names carry their creation time: the last is the final one


def load_checkpoint(checkpoint: str) -> LoadedModel:
    """Model, run config and statistics from a checkpoint folder written by the training loop."""
    checkpoint = resolve_checkpoint(checkpoint)
    with storage.local_scratch("hmc-predict-") as scratch:
        loc = storage.location(checkpoint)
        files = {}
        for name in (CheckpointFiles.RUN, CheckpointFiles.INPUT, CheckpointFiles.BEST, CheckpointFiles.MODEL):
            remote = f"{loc.path.rstrip('/')}/{name}"
            if loc.fs.exists(remote):
                local = Path(scratch) / name
                loc.fs.get(remote, str(local))
                files[name] = local
        missing = [n for n in (CheckpointFiles.RUN, CheckpointFiles.INPUT) if n not in files]
        if missing or (CheckpointFiles.BEST not in files and CheckpointFiles.MODEL not in files):
            raise PredictError(
                f"{storage.redact(checkpoint)}: not a hephaestus checkpoint (missing {missing or 'weights'})"
            )
        run = RunConfig(**json.loads(files[CheckpointFiles.RUN].read_text()))
        info = json.loads(files[CheckpointFiles.INPUT].read_text())
        weights = files.get(CheckpointFiles.BEST, files.get(CheckpointFiles.MODEL))
        built = build_model(run.model, int(info["in_channels"]), weights="random", encoder=run.encoder)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        built.module.load_state_dict(state)
    stats = {k: (float(v[0]), float(v[1])) for k, v in info.get("statistics", {}).items()}
    return LoadedModel(
        built.module.eval(), run, stats or dict(schema.AUTHORS_STATISTICS), int(info["in_channels"])
    )


def find_pair(ds: xr.Dataset, pair: str | None = None, unique_id: str | None = None) -> tuple[int, int]:
    """(primary index, secondary index) of a pair given as PRIMARY_SECONDARY (YYYYMMDD_YYYYMMDD) or by id."""
    valid = ds["valid_date_pair"].values
    if unique_id is not None:
        hits = np.argwhere((ds["unique_id"].values == str(unique_id)) & valid)
        if hits.size == 0:
            raise PredictError(
                f"{ds.encoding.get('source_url', 'cube')}: no pair with unique id {unique_id!r}"
            )
        return int(hits[0][0]), int(hits[0][1])
    if pair is None:
        raise PredictError("give --pair PRIMARY_SECONDARY or --unique-id")
    try:
        first, second = (np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:8]}", "D") for d in pair.split("_"))
    except ValueError as exc:
        raise PredictError(f"pair {pair!r}: expected YYYYMMDD_YYYYMMDD") from exc
    p = np.flatnonzero(ds[schema.PRIMARY].values.astype("datetime64[D]") == first)
    s = np.flatnonzero(ds[schema.SECONDARY].values.astype("datetime64[D]") == second)
    if p.size == 0 or s.size == 0 or not valid[p[0], s[0]]:
        raise PredictError(f"{ds.encoding.get('source_url', 'cube')}: pair {pair} is not in the cube")
    return int(p[0]), int(s[0])


def series_steps(ds: xr.Dataset, i: int, j: int, length: int = schema.SERIES_LENGTH) -> list[tuple[int, int]]:
    """The pair and the next pairs of its primary date by secondary date, padded by duplicating the last."""
    valid = np.flatnonzero(ds["valid_date_pair"].values[i])
    later = [(i, int(k)) for k in valid if k >= j][:length]
    return later + [later[-1]] * (length - len(later))


def frame_input(
    ds: xr.Dataset, steps: list[tuple[int, int]], atmosphere: bool, statistics: dict[str, tuple[float, float]]
) -> np.ndarray:
    """[T*C, H, W] float32 z-scored like the loader: NaN, fill values and phase no-data (0) become 0."""
    channels = schema.input_channels(atmosphere)
    out = []
    for i, j in steps:
        for var in channels:
            data = ds[var]
            raw = (
                data.values if var == "dem" else data.isel({schema.PRIMARY: i, schema.SECONDARY: j}).values
            ).astype(np.float32)
            key = var if var in statistics else schema.statistics_key(var)
            if key not in statistics:
                raise PredictError(f"the checkpoint's statistics lack {schema.statistics_key(var)!r}")
            mean, std = statistics[key]
            bad = ~np.isfinite(raw)
            fill = data.encoding.get("_FillValue")
            if fill is not None and not (isinstance(fill, float) and np.isnan(fill)):
                bad |= raw == fill
            if var == "insar_difference":
                bad |= raw == 0
            z = (raw - np.float32(mean)) / np.float32(std)
            z[bad] = 0.0
            out.append(z)
    return np.stack(out).astype(np.float32)


def _starts(size: int, window: int, stride: int) -> list[int]:
    if size <= window:
        return [0]
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


@torch.no_grad()
def sliding_prediction(
    model: torch.nn.Module, image: np.ndarray, task: str, window: int, batch_size: int = 8
) -> np.ndarray:
    """Per-pixel mean over overlapping windows of the deformation probability (or window score)."""
    c, h, w = image.shape
    ph, pw = max(h, window), max(w, window)
    padded = np.zeros((c, ph, pw), dtype=np.float32)
    padded[:, :h, :w] = image
    total = np.zeros((ph, pw), dtype=np.float64)
    count = np.zeros((ph, pw), dtype=np.float64)
    stride = max(1, window // 2)
    boxes = [(r, q) for r in _starts(ph, window, stride) for q in _starts(pw, window, stride)]
    for k in range(0, len(boxes), batch_size):
        chunk = boxes[k : k + batch_size]
        batch = torch.from_numpy(np.stack([padded[:, r : r + window, q : q + window] for r, q in chunk]))
        prob = deformation_probability(model(batch)).numpy()
        for (r, q), p in zip(chunk, prob, strict=True):
            total[r : r + window, q : q + window] += p if task == "segmentation" else float(p)
            count[r : r + window, q : q + window] += 1
    return (total / np.maximum(count, 1))[:h, :w].astype(np.float32)


def _transform(lat: np.ndarray, lon: np.ndarray):  # type: ignore[no-untyped-def]
    from rasterio.transform import from_origin

    dx = float(lon[1] - lon[0]) if lon.size > 1 else schema.GRID_SPACING_DEG
    dy = float(lat[0] - lat[1]) if lat.size > 1 else schema.GRID_SPACING_DEG
    return from_origin(float(lon[0]) - dx / 2, float(lat[0]) + dy / 2, dx, dy)


def write_raster(
    out: str, layers: dict[str, np.ndarray], lat: np.ndarray, lon: np.ndarray, tags: dict
) -> str:
    """GeoTIFF (EPSG:4326, transform from the cube's pixel centres) or zarr with lat/lon and spatial_ref."""
    out = storage.normalize(out)
    if out.endswith((".tif", ".tiff")):
        import rasterio

        names = list(layers)
        with storage.local_scratch("hmc-predict-out-") as scratch:
            local = Path(scratch) / "out.tif"
            profile = {
                "driver": "GTiff",
                "height": lat.size,
                "width": lon.size,
                "count": len(names),
                "dtype": "float32",
                "crs": f"EPSG:{schema.CRS_EPSG}",
                "transform": _transform(lat, lon),
                "compress": "deflate",
            }
            with rasterio.open(local, "w", **profile) as dst:
                for b, name in enumerate(names, start=1):
                    dst.write(layers[name].astype(np.float32), b)
                    dst.set_band_description(b, name)
                dst.update_tags(**{k: str(v) for k, v in tags.items()})
            storage.write_bytes(out, local.read_bytes())
        return out
    if out.endswith(".zarr"):
        data = {
            name: xr.DataArray(arr, dims=schema.GRID_DIMS, attrs={"grid_mapping": schema.GRID_MAPPING})
            for name, arr in layers.items()
        }
        ds = xr.Dataset(
            data, coords={schema.LAT: lat, schema.LON: lon}, attrs={k: str(v) for k, v in tags.items()}
        )
        ds[schema.GRID_MAPPING] = xr.DataArray(np.int64(0), attrs=spatial_ref_attrs())
        ds = ds.set_coords(schema.GRID_MAPPING)
        ds.to_zarr(out, mode="w", consolidated=False, storage_options=storage.storage_options(out) or None)
        return out
    raise PredictError(f"{storage.redact(out)}: output must end in .tif, .tiff or .zarr")


def predict(
    checkpoint: str,
    cube_url: str,
    out: str,
    *,
    pair: str | None = None,
    unique_id: str | None = None,
    batch_size: int = 8,
) -> dict[str, Any]:
    """Predict one pair of a cube and write the raster to `out`; returns what was written (and the score)."""
    loaded = load_checkpoint(checkpoint)
    run = loaded.run
    ds = open_cube(cube_url)
    i, j = find_pair(ds, pair=pair, unique_id=unique_id)
    steps = series_steps(ds, i, j, run.series_length or schema.SERIES_LENGTH) if run.series else [(i, j)]
    image = frame_input(ds, steps, run.atmosphere, loaded.statistics)
    if image.shape[0] != loaded.in_channels:
        raise PredictError(
            f"{storage.redact(checkpoint)}: model takes {loaded.in_channels} channels, the pair gives {image.shape[0]}"
        )
    window = min(run.crop_size, max(image.shape[1:]))
    prob = sliding_prediction(loaded.module, image, run.task, window, batch_size)
    lat = ds[schema.LAT].values
    lon = ds[schema.LON].values
    tags = {
        "run_id": run.run_id,
        "model": run.model,
        "task": run.task,
        "unique_id": str(ds["unique_id"].values[i, j]),
        "primary_date": str(ds[schema.PRIMARY].values[i])[:10],
        "secondary_date": str(ds[schema.SECONDARY].values[j])[:10],
        "frame_id": ds.attrs.get("frame_id", ""),
    }
    if run.task == "segmentation":
        layers = {"deformation_probability": prob, "deformation_mask": (prob >= 0.5).astype(np.float32)}
    else:
        tags["score"] = float(prob.max())
        layers = {"deformation_score": prob}
    written = write_raster(out, layers, lat, lon, tags)
    return {"out": storage.redact(written), **tags}


__all__ = ["PredictError", "find_pair", "frame_input", "load_checkpoint", "predict", "write_raster"]
