"""Inference on one pair of a cube with a trained checkpoint: a georeferenced score or mask raster.

The input is the training input: the checkpoint's input specification (`hephaestus.platform.inputs`,
channels, statistics, no-data rule, series length) and the loader's own reader (`read_input`), over the
whole frame, cut into overlapping windows of the training crop size. A series model gets the catalog's
series of the pair (the store's series table), as in training.
Segmenters give a per-pixel deformation probability and mask; classifiers a window score map and
the frame's score (the highest window score).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from hephaestus.platform import schema, storage
from hephaestus.platform.cube import open_cube, spatial_ref_attrs
from hephaestus.platform.errors import InputError
from hephaestus.platform.inputs import InputSpec, pad_series
from hephaestus.platform.layout import CheckpointFiles, StoreLayout
from hephaestus.platform.pairs import pair_name
from hephaestus.train.config import RunConfig
from hephaestus.train.data.cubes import OpenCube, default_store
from hephaestus.train.data.read import read_input
from hephaestus.train.data.samples import Step
from hephaestus.train.metrics import deformation_probability
from hephaestus.train.models import build_model
from hephaestus.train.weights import DIGESTS_KEY, load_weights

THRESHOLD_KEY = "threshold"
"""Key of the calibrated score threshold in a checkpoint's `input.json` (beside
`threshold_false_alerts_per_volcano_year`, the false-alert rate it was chosen for)."""
RATE_KEY = "threshold_false_alerts_per_volcano_year"


class PredictError(InputError):
    """The checkpoint, cube or pair cannot be used: names which and why."""


@dataclass
class LoadedModel:
    module: torch.nn.Module
    run: RunConfig
    spec: InputSpec
    threshold: float | None = None
    """The score threshold calibrated on validation pairs at training's end (`input.json`); None: none."""


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
        if "input_spec" not in info:
            raise PredictError(
                f"{storage.redact(checkpoint)}: the checkpoint has no input specification (written before "
                "it was recorded); train it again"
            )
        spec = InputSpec.from_record(info["input_spec"], storage.redact(checkpoint))
        name = CheckpointFiles.BEST if CheckpointFiles.BEST in files else CheckpointFiles.MODEL
        where = storage.redact(storage.join(checkpoint, name))
        digests = info.get(DIGESTS_KEY) or {}
        state = load_weights(files[name], where, digests.get(name))
        built = build_model(run.model, spec.in_channels, weights="random", encoder=run.encoder)
        try:
            built.module.load_state_dict(state)
        except RuntimeError as exc:
            raise PredictError(
                f"{where}: the weights do not fit the recorded input ({spec.in_channels} channels, model "
                f"{run.model}): {_first_mismatch(exc)}"
            ) from None
    threshold = info.get(THRESHOLD_KEY)
    return LoadedModel(built.module.eval(), run, spec, None if threshold is None else float(threshold))


def _first_mismatch(exc: BaseException) -> str:
    """The first specific line of torch's multi-line `load_state_dict` error (a size mismatch, a missing or
    an unexpected key)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[1] if len(lines) > 1 else lines[0] if lines else type(exc).__name__)[:300]


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
    return pair_indices(ds, first, second)


def pair_indices(ds: xr.Dataset, primary: object, secondary: object) -> tuple[int, int]:
    """(primary index, secondary index) of the valid pair of these dates (anything numpy reads as a day)."""
    first, second = np.datetime64(primary, "D"), np.datetime64(secondary, "D")
    p = np.flatnonzero(ds[schema.PRIMARY].values.astype("datetime64[D]") == first)
    s = np.flatnonzero(ds[schema.SECONDARY].values.astype("datetime64[D]") == second)
    if p.size == 0 or s.size == 0 or not ds["valid_date_pair"].values[p[0], s[0]]:
        name = pair_name(first.astype(dt.date), second.astype(dt.date))
        raise PredictError(f"{ds.encoding.get('source_url', 'cube')}: pair {name} is not in the cube")
    return int(p[0]), int(s[0])


def store_of(cube_url: str) -> str:
    """The store a cube lives in (STORE/cubes/NAME.zarr), for its catalog."""
    url = storage.normalize(cube_url).rstrip("/")
    parent, _, _ = url.rpartition("/")
    store, _, folder = parent.rpartition("/")
    if folder != StoreLayout.CUBES_DIR or not store:
        raise PredictError(
            f"{storage.redact(cube_url)}: not under STORE/cubes/; give --store for its catalog"
        )
    return store


def catalog_series(store_url: str, frame_id: str, unique_id: int, length: int) -> list[int]:
    """The pair ids of the catalog's series of the frame that starts with the pair (else the first that
    holds it), padded by the series rule."""
    from hephaestus import catalog

    rows = catalog.read_series(store_url).select(["series_id", "frame_id", "pair_ids"]).to_pylist()
    holding = [r for r in rows if r["frame_id"] == frame_id and unique_id in r["pair_ids"]]
    if not holding:
        raise PredictError(f"{storage.redact(store_url)}: no series of the catalog holds pair {unique_id}")
    first = [row for row in holding if row["pair_ids"][0] == unique_id]
    row = (first or holding)[0]
    return pad_series(row["pair_ids"], length, row["series_id"])


def pair_steps(
    ds: xr.Dataset, cube_url: str, i: int, j: int, spec: InputSpec, store_url: str | None = None
) -> list[Step]:
    """The steps the model takes for pair (i, j): the pair alone, or its catalog series."""
    if spec.series_length == 1:
        return [Step(cube_url, i, j, None)]
    uid = int(ds["unique_id"].values[i, j])
    frame = str(ds.attrs.get("frame_id", ""))
    ids = catalog_series(store_url or store_of(cube_url), frame, uid, spec.series_length)
    where = {
        int(u): (int(a), int(b))
        for (a, b), u in np.ndenumerate(ds["unique_id"].values)
        if ds["valid_date_pair"].values[a, b]
    }
    missing = [u for u in ids if u not in where]
    if missing:
        raise PredictError(f"{storage.redact(cube_url)}: series pairs {missing} are not in this cube")
    return [Step(cube_url, *where[u], None) for u in ids]


def prediction_input(
    spec: InputSpec, ds: xr.Dataset, cube_url: str, i: int, j: int, store_url: str | None = None
) -> np.ndarray:
    """The whole-frame model input [T*C, H, W] for pair (i, j): its steps read as training reads them."""
    return frame_input(cube_url, pair_steps(ds, cube_url, i, j, spec, store_url), spec)


def frame_input(cube_url: str, steps: list[Step], spec: InputSpec) -> np.ndarray:
    """[T*C, H, W] float32 of the whole frame, read and normalised exactly as the training loader does."""
    cube = OpenCube(cube_url, default_store(cube_url))
    image, _ = read_input(cube, steps, spec, 0, 0, cube.height, cube.width)
    return image


def _starts(size: int, window: int, stride: int) -> list[int]:
    if size <= window:
        return [0]
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts


def window_starts(h: int, w: int, window: int) -> list[tuple[int, int]]:
    """Top-left corners of the overlapping windows (stride half a window) covering an h x w frame."""
    stride = max(1, window // 2)
    return [
        (r, q)
        for r in _starts(max(h, window), window, stride)
        for q in _starts(max(w, window), window, stride)
    ]


def window_batch(padded: np.ndarray, corners: list[tuple[int, int]], window: int) -> torch.Tensor:
    """The model's input batch [B, C, window, window] for the given window corners."""
    return torch.from_numpy(np.stack([padded[:, r : r + window, q : q + window] for r, q in corners]))


@torch.no_grad()
def window_probabilities(
    model: torch.nn.Module, image: np.ndarray, window: int, batch_size: int = 8
) -> Iterator[tuple[list[tuple[int, int]], np.ndarray]]:
    """(corners, deformation probabilities) of the overlapping windows (`window_starts`) over the
    whole-frame `image` (zero-padded to one window where smaller), a batch at a time: [B] window scores
    for a classifier, [B, window, window] pixel probabilities for a segmenter."""
    c, h, w = image.shape
    padded = np.zeros((c, max(h, window), max(w, window)), dtype=np.float32)
    padded[:, :h, :w] = image
    boxes = window_starts(h, w, window)
    device = next(model.parameters()).device  # a model being trained may sit on an accelerator
    for k in range(0, len(boxes), batch_size):
        chunk = boxes[k : k + batch_size]
        batch = window_batch(padded, chunk, window).to(device)
        yield chunk, deformation_probability(model(batch)).cpu().numpy()


def sliding_prediction(
    model: torch.nn.Module, image: np.ndarray, task: str, window: int, batch_size: int = 8
) -> np.ndarray:
    """Per-pixel mean over overlapping windows of the deformation probability (or window score)."""
    _, h, w = image.shape
    ph, pw = max(h, window), max(w, window)
    total = np.zeros((ph, pw), dtype=np.float64)
    count = np.zeros((ph, pw), dtype=np.float64)
    for chunk, prob in window_probabilities(model, image, window, batch_size):
        for (r, q), p in zip(chunk, prob, strict=True):
            total[r : r + window, q : q + window] += p if task == "segmentation" else float(p)
            count[r : r + window, q : q + window] += 1
    return (total / np.maximum(count, 1))[:h, :w].astype(np.float32)


def grid_transform(lat: np.ndarray, lon: np.ndarray):  # type: ignore[no-untyped-def]
    """The affine transform of a cube grid given its pixel-centre latitudes and longitudes (north up)."""
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
                "transform": grid_transform(lat, lon),
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
    store_url: str | None = None,
) -> dict[str, Any]:
    """Predict one pair of a cube and write the raster to `out`; returns what was written (and the score).

    A series model needs the catalog of the cube's store (`store_url`, else STORE of STORE/cubes/NAME).
    """
    loaded = load_checkpoint(checkpoint)
    run = loaded.run
    ds = open_cube(cube_url)
    i, j = find_pair(ds, pair=pair, unique_id=unique_id)
    image = prediction_input(loaded.spec, ds, cube_url, i, j, store_url)
    window = min(loaded.spec.crop_size, max(image.shape[1:]))
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


__all__ = [
    "PredictError",
    "find_pair",
    "frame_input",
    "grid_transform",
    "load_checkpoint",
    "pair_steps",
    "predict",
    "prediction_input",
    "window_batch",
    "window_starts",
    "write_raster",
]
