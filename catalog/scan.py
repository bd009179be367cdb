"""Scan one minicube: its pair rows, mask statistics, grid facts for STAC and streamed normalisation stats.

A cube is never loaded whole: the pair scalars (small) are read at once, then each pair's 2-D
slices are read one at a time (one chunk in the published layout) by a small thread pool, and
reduced to a few numbers before the next ones come in.

Normalisation statistics (documented choices):
- accumulated in float64 with Chan's parallel update (count, mean, M2), so partial results of
  slices, pairs and cubes merge exactly and large values (surface pressure) lose no precision;
- only usable pairs (product present, not corrupted, no processing error, not no_info) count;
- NaN is excluded everywhere; insar_difference == 0 is LiCSAR's no-data, so those pixels are
  excluded from both insar_difference and insar_coherence;
- primary and secondary ERA5 variables share one entry (schema.statistics_key); the DEM counts
  once per cube;
- a second set counts the train split's pairs only (training normalises with it: no val/test pixel
  leaks into the model's input).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from hephaestus.catalog.pairs import is_positive, is_usable, split_of
from hephaestus.platform import inputs, schema, storage, volcanoes
from hephaestus.platform.cube import CubeUnreadableError, dataset_version, open_cube, read_failure

STATS_VARIABLES: tuple[str, ...] = ("insar_difference", "insar_coherence", *inputs.ATMOSPHERE_CHANNELS)


@dataclass
class RunningStats:
    """Count, mean and sum of squared deviations, mergeable (Chan et al.)."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        x = np.asarray(values, dtype="float64").ravel()
        if x.size == 0:
            return
        mean = float(x.mean())
        self.merge(RunningStats(int(x.size), mean, float(np.square(x - mean).sum())))

    def merge(self, other: RunningStats) -> None:
        if other.count == 0:
            return
        if self.count == 0:
            self.count, self.mean, self.m2 = other.count, other.mean, other.m2
            return
        n = self.count + other.count
        delta = other.mean - self.mean
        self.mean += delta * other.count / n
        self.m2 += other.m2 + delta * delta * self.count * other.count / n
        self.count = n

    @property
    def std(self) -> float:
        """Population standard deviation (ddof=0), as numpy's default."""
        return math.sqrt(self.m2 / self.count) if self.count else float("nan")


@dataclass
class CubeScan:
    """What the catalog needs from one cube."""

    url: str
    frame_id: str
    rows: list[dict]
    height: int
    width: int
    lat: tuple[float, float]  # pixel-centre latitude of the first and last row
    lon: tuple[float, float]  # pixel-centre longitude of the first and last column
    primary_dates: list[np.datetime64]
    secondary_dates: list[np.datetime64]
    variables: dict[str, dict]
    stats: dict[str, RunningStats] = field(default_factory=dict)
    train_stats: dict[str, RunningStats] = field(default_factory=dict)
    """The same statistics over the train split's pairs only (the DEM when the cube has any)."""
    skipped: list[str] = field(default_factory=list)
    cube_version: str | None = None
    """The version token of the view of the cube this scan read (platform.cube.dataset_version)."""
    pair_stats: list[tuple[object, object, dict[str, RunningStats]]] = field(default_factory=list)
    """Each catalogued pair's own statistics, (primary date, secondary date, stats), in scan order: the
    next build reuses them for pairs it need not read again (catalog/incremental.py)."""
    reused: int = 0
    """Pairs taken from a previous scan (`known`) instead of read."""
    ref: str | None = None
    """What the rows record as `cube_url`: the cube's path relative to the store root (StoreLayout.relative),
    so that a copied store reads its own cubes; None: the (redacted) URL it was read from."""

    @property
    def cube_ref(self) -> str:
        return self.ref if self.ref is not None else storage.redact(self.url)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the pixel edges (coords are pixel centres)."""
        return volcanoes.footprint(self.lat, self.lon)


def _names(values: np.ndarray, codes: schema.Codes, skip: set[int]) -> list[str]:
    present = sorted(int(v) for v in np.unique(values) if int(v) not in skip)
    return [codes.meaning(v) for v in present if v in codes.meanings]


def _mask_facts(deformation: np.ndarray) -> tuple[int, tuple[int, int, int, int] | None]:
    hit = deformation > 0
    rows = np.flatnonzero(hit.any(axis=1))
    if rows.size == 0:
        return 0, None
    cols = np.flatnonzero(hit.any(axis=0))
    return int(hit.sum()), (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))


def _pair_scalars(ds: xr.Dataset, where: str) -> dict[str, np.ndarray]:
    """Every pair variable, each read under its own name (a damaged chunk names its variable)."""
    out = {}
    for name in schema.PAIR_VARIABLES:
        with _reading(f"{where}: {name}", "read"):
            out[name] = np.asarray(ds[name].values)
    return out


@contextmanager
def _reading(label: str, what: str) -> Iterator[None]:
    """Any failure inside becomes a CubeUnreadableError naming the cube (or pair) and what was read."""
    try:
        yield
    except CubeUnreadableError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read names the cube
        raise CubeUnreadableError(f"{label}: cannot {what} ({read_failure(exc)})") from exc


def _open(text: str, where: str) -> tuple[xr.Dataset, str]:
    """The cube (schema checked) and its frame id (checked before it becomes an item path)."""
    with _reading(where, "open cube"):
        ds = open_cube(text)
    frame_id = str(ds.attrs.get("frame_id") or os.path.basename(text.rstrip("/")).split(".")[0])
    try:
        storage.safe_component(frame_id, what=f"{where}: frame_id")
    except storage.UnsafePathComponentError as exc:
        raise CubeUnreadableError(str(exc)) from exc
    return ds, frame_id


def _new_scan(ds: xr.Dataset, text: str, frame_id: str) -> CubeScan:
    """The grid and date facts of a cube, before any pair is read."""
    lat = np.asarray(ds[schema.LAT].values)
    lon = np.asarray(ds[schema.LON].values)
    return CubeScan(
        url=text,
        frame_id=frame_id,
        rows=[],
        height=int(lat.size),
        width=int(lon.size),
        lat=(float(lat[0]), float(lat[-1])),
        lon=(float(lon[0]), float(lon[-1])),
        primary_dates=list(np.asarray(ds[schema.PRIMARY].values).astype("datetime64[D]")),
        secondary_dates=list(np.asarray(ds[schema.SECONDARY].values).astype("datetime64[D]")),
        variables={
            name: {
                "dims": list(ds[name].dims),
                "dtype": str(ds[name].dtype),
                "unit": ds[name].attrs.get("units"),
                "description": ds[name].attrs.get("long_name", ""),
            }
            for name in schema.VARIABLES
            if name in ds.variables  # an optional variable the cube predates is absent
        },
        cube_version=dataset_version(ds),
    )


def _pair_masks(ds: xr.Dataset, i: int, j: int) -> dict[str, np.ndarray]:
    """The pair's mask slices; source type and intensity are drawn only where deformation is, so
    they are read only then."""
    deformation = np.asarray(ds["deformation_mask"][i, j].values)
    slices = {"deformation_mask": deformation}
    for m in ("activity_type_mask", "intensity_level_mask"):
        slices[m] = (
            np.asarray(ds[m][i, j].values)
            if deformation.any()
            else np.full((1, 1), schema.MASK_FILL[m], dtype="int32")
        )
    return slices


def _pair_statistics(ds: xr.Dataset, i: int, j: int) -> dict[str, RunningStats]:
    """The pair's contribution to the normalisation statistics (see the module notes)."""
    local: dict[str, RunningStats] = {}
    phase = np.asarray(ds["insar_difference"][i, j].values)
    data = phase != 0
    for var in STATS_VARIABLES:
        arr = phase if var == "insar_difference" else np.asarray(ds[var][i, j].values)
        values = arr[data] if var in ("insar_difference", "insar_coherence") else arr
        local.setdefault(schema.statistics_key(var), RunningStats()).add(_finite(values))
    return local


@dataclass(frozen=True)
class KnownPair:
    """A pair a previous scan read from a cube this one descends from: its row and its own statistics."""

    row: dict
    stats: dict[str, RunningStats]


@dataclass(frozen=True)
class KnownCube:
    """What a previous scan knew of a cube: pairs by (primary date, secondary date), DEM statistics."""

    pairs: Mapping[tuple[object, object], KnownPair]
    dem: RunningStats | None


@dataclass
class _PairScanner:
    """Reads one pair of a cube into its row and statistics (called from a thread pool)."""

    ds: xr.Dataset
    scan: CubeScan
    scalars: dict[str, np.ndarray]
    uid_text: np.ndarray
    annotations: Mapping[int, dict] | None
    statistics: bool
    where: str
    known: KnownCube | None = None

    def __call__(self, ij: tuple[int, int]) -> tuple[dict | None, dict[str, RunningStats], str | None]:
        i, j = ij
        reuse = self._known(i, j)
        if reuse is not None:
            return reuse
        label = f"{self.where} pair ({self.scan.primary_dates[i]}, {self.scan.secondary_dates[j]})"
        text_uid = self.uid_text[i, j]
        if not text_uid.isdigit():
            return None, {}, f"{label}: unique_id {text_uid!r} is not an integer; pair left out"
        with _reading(label, "read masks"):
            slices = _pair_masks(self.ds, i, j)
        row = _row(self.scan, self.scalars, slices, i, j, int(text_uid), self.annotations)
        local: dict[str, RunningStats] = {}
        if self.statistics and row["usable"]:
            with _reading(label, "read rasters"):
                local = _pair_statistics(self.ds, i, j)
        return row, local, None

    def _known(self, i: int, j: int) -> tuple[dict, dict[str, RunningStats], None] | None:
        """The previous scan's row and statistics of this pair, placed at this view's positions."""
        if self.known is None:
            return None
        key = (self.scan.primary_dates[i].astype(object), self.scan.secondary_dates[j].astype(object))
        hit = self.known.pairs.get(key)
        if hit is None:
            return None
        where = {"cube_url": self.scan.cube_ref, "primary_index": i, "secondary_index": j}
        grid = {"height": self.scan.height, "width": self.scan.width}
        return {**hit.row, **where, **grid}, hit.stats, None


def scan_cube(
    url: str,
    *,
    statistics: bool = True,
    annotations: Mapping[int, dict] | None = None,
    workers: int = 2,
    on_pair: Callable[[], None] | None = None,
    known: Callable[[str, Mapping[str, object]], KnownCube | None] | None = None,
    ref: str | None = None,
) -> CubeScan:
    """Read a cube's pairs and reduce each pair's slices to mask facts and statistics.

    `annotations` (uniqueID -> record), when given, supply what a cube does not store (label lists,
    image_artifacts, processing_error codes); otherwise label lists come from the mask codes.
    `known(frame_id, root attributes of the opened view)` (an incremental build) returns what a previous
    scan read of a cube this view descends from, or None: those pairs' rows and statistics are taken
    instead of read, and merged in the same order as read ones, so the result is the same, to the bit,
    as a scan that reads everything. `ref` is what the rows record as `cube_url` (CubeScan.ref).
    """
    text = storage.normalize(url)
    where = storage.redact(text)
    ds, frame_id = _open(text, where)
    scan = _new_scan(ds, text, frame_id)
    scan.ref = ref
    prior = known(frame_id, dict(ds.attrs)) if known is not None else None
    scalars = _pair_scalars(ds, where)
    uid_text = np.char.strip(scalars["unique_id"].astype(str))
    valid = scalars["valid_date_pair"].astype(bool)
    todo = [(int(i), int(j)) for i, j in zip(*np.nonzero(valid | (uid_text != "")), strict=True)]
    if statistics:
        scan.stats = {schema.statistics_key(v): RunningStats() for v in ("dem", *STATS_VARIABLES)}
        if prior is not None and prior.dem is not None:
            scan.stats["dem"].merge(prior.dem)
        else:
            with _reading(where, "read dem"):
                scan.stats["dem"].add(_finite(np.asarray(ds["dem"].values)))
    one = _PairScanner(ds, scan, scalars, uid_text, annotations, statistics, where, prior)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for row, local, problem in pool.map(one, todo):
            if problem:
                scan.skipped.append(problem)
            if row is not None:
                scan.rows.append(row)
                key = (row["primary_date"], row["secondary_date"])
                scan.pair_stats.append((*key, local))
                scan.reused += prior is not None and key in prior.pairs
            for key, st in local.items():
                scan.stats[key].merge(st)
                if row is not None and row["split"] == "train":
                    scan.train_stats.setdefault(key, RunningStats()).merge(st)
            if on_pair is not None:
                on_pair()
    if scan.train_stats:
        scan.train_stats["dem"] = RunningStats()
        scan.train_stats["dem"].merge(scan.stats["dem"])
    return scan


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values[np.isfinite(values)]


def _row(
    scan: CubeScan,
    s: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    i: int,
    j: int,
    uid: int,
    annotations: Mapping[int, dict] | None,
) -> dict:
    primary = scan.primary_dates[i].astype(object)
    secondary = scan.secondary_dates[j].astype(object)
    deformation = masks["deformation_mask"]
    n_pix, box = _mask_facts(deformation)
    labels = _names(deformation, schema.DEFORMATION, {0}) or [schema.NEGATIVE_LABEL]
    activity = _names(masks["activity_type_mask"], schema.ACTIVITY_TYPE, {0})
    intensity = _names(masks["intensity_level_mask"], schema.INTENSITY, {schema.INTENSITY.code("None")})
    has_product = bool(s["valid_date_pair"][i, j])
    corrupted = bool(s["corrupted"][i, j])
    perr = int(bool(s["processing_error"][i, j]))
    no_info = bool(s["no_info"][i, j])
    image_artifacts: bool | None = None
    rec = (annotations or {}).get(uid)
    if rec is not None:
        labels, activity, intensity = (
            list(rec["label"]),
            list(rec["activity_type"]),
            list(rec["intensity_level"]),
        )
        perr, image_artifacts = int(rec["processing_error"]), bool(rec["image_artifacts"])
    return {
        "unique_id": uid,
        "frame_id": scan.frame_id,
        "primary_date": primary,
        "secondary_date": secondary,
        "split": split_of(primary),
        "positive": is_positive(labels),
        "usable": is_usable(has_product, corrupted, perr, no_info),
        "has_product": has_product,
        "cube_url": scan.cube_ref,
        "primary_index": i,
        "secondary_index": j,
        "height": scan.height,
        "width": scan.width,
        "label": labels,
        "activity_type": activity,
        "intensity_level": intensity,
        "phase": str(s["phase"][i, j]).strip(),
        "confidence": float(s["confidence"][i, j]),
        "corrupted": corrupted,
        "processing_error": perr,
        "glacier_fringes": int(s["glacier_fringes"][i, j]),
        "orbital_fringes": int(s["orbital_fringes"][i, j]),
        "atmospheric_fringes": int(s["atmospheric_fringes"][i, j]),
        "low_coherence": bool(s["low_coherence"][i, j]),
        "no_info": no_info,
        "image_artifacts": image_artifacts,
        "is_crowd": bool(s["is_crowd"][i, j]),
        "caption": str(s["caption"][i, j]),
        "n_polygons": None,
        "deformation_pixels": n_pix,
        "mask_row_min": box[0] if box else None,
        "mask_row_max": box[1] if box else None,
        "mask_col_min": box[2] if box else None,
        "mask_col_max": box[3] if box else None,
    }
