"""Build and publish a catalog: from the cubes of a store (`build_catalog`) or from annotations alone.

Both write a new version next to the published one and switch the pointer only when everything
is written (see publish.py), so a failed or interrupted build leaves the old catalog untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pystac
from pydantic import Field

from hephaestus.catalog import incremental, publish, stac, volcano_split
from hephaestus.catalog.annotations import load_annotations, load_available
from hephaestus.catalog.pairs import (
    PAIR_DESCRIPTIONS,
    PAIR_ORDER,
    PAIR_SCHEMA,
    annotation_row,
    rows_to_table,
)
from hephaestus.catalog.scan import CubeScan, CubeUnreadableError, RunningStats, scan_cube
from hephaestus.catalog.series import SERIES_SCHEMA, build_series
from hephaestus.platform import schema, storage
from hephaestus.platform import stac_extension as hx
from hephaestus.platform.config import Config
from hephaestus.platform.errors import InputError
from hephaestus.platform.layout import CatalogVersion, StoreLayout, href_between, is_cube_name
from hephaestus.platform.locks import store_lock

log = logging.getLogger(__name__)

SERIES_DESCRIPTIONS = {
    "series_id": "<frame>_<primary YYYYMMDD>_<k>",
    "volcano_split": "held-out-volcano split of the series' frame (see the pair index)",
    "pair_ids": "unique_id of each step, ordered by secondary date (duplicates when padded)",
    "positive": "any step positive",
    "n_distinct": "distinct pairs in the series",
    "padded": "the group was shorter than the series length and padded by duplication",
}


class CatalogBuildError(InputError):
    """A catalog cannot be built: names the store or file and what is wrong."""


class CatalogConfig(Config):
    """How a catalog is built."""

    series_length: int = Field(schema.SERIES_LENGTH, ge=1, le=32)
    seed: int = 0
    statistics: bool = True
    geoparquet: bool = True
    workers: int = Field(2, ge=1, le=64)
    strict: bool = False
    keep_versions: int = Field(2, ge=1)
    incremental: bool = True
    """Reuse the published version's scan cache: read only the pairs and cubes that changed since (the
    result equals a full scan's; see catalog/incremental.py). False: read every cube again."""
    pair_partitioning: Literal["split", "split/frame_id"] = "split"
    """Hive keys of the pair index. `split` (default): one file per split, rows sorted by frame and
    dates in row groups of 64 Ki rows, so a frame reads alone by row-group statistics; at 10 M rows a
    filtered count and a split x label aggregation are 10-50x faster than with `split/frame_id` (one
    file per split and frame: 4,000 files for 1,000 frames; a frame reads alone by path), see
    bench_catalog.py."""


@dataclass
class BuildReport:
    """What a build published."""

    store_url: str
    version: str
    pairs: int
    series: int
    cubes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    reused_pairs: int = 0
    """Pairs taken from the previous version's cache instead of read from their cube."""
    reused_from: str | None = None
    """The version whose cache the build used (None: a full scan)."""

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1)


def table2_counts(pairs: pa.Table, series: pa.Table) -> dict[str, dict[str, int]]:
    """Usable single pairs and series per split, positives and negatives (the paper's Table 2)."""
    out: dict[str, dict[str, int]] = {}
    usable = pairs.filter(pc.field("usable"))
    for split in schema.SPLITS:
        p = usable.filter(pc.field("split") == split)
        s = series.filter(pc.field("split") == split)
        npos = int(pc.sum(p["positive"]).as_py() or 0)
        spos = int(pc.sum(s["positive"]).as_py() or 0)
        out[split] = {
            "pairs_positive": npos,
            "pairs_negative": p.num_rows - npos,
            "series_positive": spos,
            "series_negative": s.num_rows - spos,
        }
    return out


def with_volcano_split(
    pairs: pa.Table, series: pa.Table, frames: list[volcano_split.FrameVolcanoes]
) -> tuple[pa.Table, pa.Table, volcano_split.VolcanoSplit]:
    """Both tables with `volcano_split` set from the frames' volcanoes (a series takes its frame's)."""
    split = volcano_split.volcano_split(pairs, frames)
    return (
        volcano_split.with_column(pairs, split.splits),
        volcano_split.with_column(series, split.splits),
        split,
    )


def _volcano_train_statistics(
    scans: list[CubeScan], split: volcano_split.VolcanoSplit
) -> dict[str, RunningStats]:
    """The statistics of the cubes whose frame is in the volcano scheme's train split (DEM included)."""
    totals: dict[str, RunningStats] = {}
    for scan in scans:
        if split.splits.get(scan.frame_id) == "train":
            for key, st in scan.stats.items():
                totals.setdefault(key, RunningStats()).merge(st)
    return totals


def _statistics_entry(stats: Mapping[str, RunningStats]) -> dict[str, dict]:
    out = {}
    for key in schema.statistics_keys():
        a_mean, a_std = schema.AUTHORS_STATISTICS.get(key, (None, None))  # a later field has none
        st = stats.get(key, RunningStats())
        entry: dict[str, object] = {"count": st.count, "authors_mean": a_mean, "authors_std": a_std}
        if st.count:
            entry.update(
                mean=st.mean,
                std=st.std,
                mean_ratio=st.mean / a_mean if a_mean else None,
                std_ratio=st.std / a_std if a_std else None,
            )
        out[key] = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in entry.items()
        }
    return out


def _write_items(paths: CatalogVersion, scans: list[CubeScan]) -> tuple[list[pystac.Item], list[str]]:
    """(Items, their hrefs from the collection): one STAC Item JSON per scanned cube, written in the
    version's folder with links relative to it, so the store can move as a whole."""
    items = []
    hrefs = []
    for scan in scans:
        item = stac.cube_item(
            scan,
            pairs_href=paths.ITEM_TO_PAIRS,
            pairs_schema=PAIR_SCHEMA,
            descriptions=PAIR_DESCRIPTIONS,
            cube_href=href_between(paths.item_path(scan.frame_id), scan.cube_ref),
        )
        items.append(item)
        d = stac.item_dict(item, paths.ITEM_TO_COLLECTION)
        storage.write_bytes(paths.item(scan.frame_id), json.dumps(d, indent=1).encode())
        hrefs.append(paths.item_href(scan.frame_id))
    return items, hrefs


def _temporal_extent(pairs: pa.Table) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The collection's time span: midnight UTC of the earliest and latest acquisition date of any
    pair (None, None without pairs)."""
    dates = pa.concat_arrays(
        [pairs["primary_date"].combine_chunks(), pairs["secondary_date"].combine_chunks()]
    )
    start = pc.min(dates).as_py() if len(dates) else None
    end = pc.max(dates).as_py() if len(dates) else None
    return _midnight(start), _midnight(end)


def _index_assets(
    paths: CatalogVersion, pairs: pa.Table, series: pa.Table, cfg: CatalogConfig, pair_keys: list[str]
) -> dict[str, tuple[str, pa.Schema, int, str, Mapping[str, str]]]:
    """The collection's two table assets (pair index, series table): href, schema, rows, description
    and column descriptions, as stac.collection takes them."""
    return {
        "pairs": (
            paths.href(paths.PAIRS_HREF),
            PAIR_SCHEMA,
            pairs.num_rows,
            f"Pair index: one row per (frame, primary, secondary) pair; hive-partitioned by {', '.join(pair_keys)}; "
            "rows sorted by frame_id, primary_date, secondary_date, unique_id in every file",
            PAIR_DESCRIPTIONS,
        ),
        "series": (
            paths.href(paths.SERIES_HREF),
            SERIES_SCHEMA,
            series.num_rows,
            f"Series table: time series of {cfg.series_length} pairs sharing a primary date; "
            "hive-partitioned by split",
            SERIES_DESCRIPTIONS,
        ),
    }


def _collection_extra(
    pairs: pa.Table,
    series: pa.Table,
    cfg: CatalogConfig,
    pair_keys: list[str],
    stats: Mapping[str, RunningStats] | None,
    extra: Mapping[str, object],
) -> dict[str, object]:
    """The collection's extension fields: how the tables were built, Table 2, the caller's `extra`,
    then the statistics when they were computed."""
    full_extra = {
        hx.SERIES_LENGTH: cfg.series_length,
        hx.SEED: cfg.seed,
        hx.TABLE2: table2_counts(pairs, series),
        hx.PARTITIONING: {"pairs": pair_keys, "series": ["split"]},
        **extra,
    }
    if stats is not None:
        full_extra[hx.STATISTICS] = _statistics_entry(stats)
    return full_extra


def _add_geoparquet(
    coll: pystac.Collection, paths: CatalogVersion, items: list[pystac.Item], scans: list[CubeScan]
) -> None:
    """Write the Items' stac-geoparquet mirror (hrefs relative to it) and list it on the collection."""
    _write_geoparquet(
        [
            stac.item_dict(
                it,
                paths.GEOPARQUET_TO_COLLECTION,
                {
                    "zarr": href_between(paths.geoparquet_path, sc.cube_ref),
                    "pairs": href_between(paths.geoparquet_path, paths.pairs_path),
                },
            )
            for it, sc in zip(items, scans, strict=True)
        ],
        paths.geoparquet,
    )
    asset = pystac.Asset(
        href=paths.href(paths.GEOPARQUET_HREF),
        media_type=stac.PARQUET_MEDIA_TYPE,
        title="stac-geoparquet mirror of the Items",
        roles=["metadata"],
    )
    coll.add_asset("items", asset)


def _write_version(
    store: str,
    version: str,
    pairs: pa.Table,
    series: pa.Table,
    scans: list[CubeScan],
    cfg: CatalogConfig,
    stats: Mapping[str, RunningStats] | None,
    extra: Mapping[str, object],
    cache: pa.Table | None = None,
) -> dict:
    """Write a version's files and return the collection JSON that will point at it."""
    paths = StoreLayout(store).catalog_version(version)
    if cache is not None:
        incremental.write_cache(cache, paths.scan_cache)
    pair_keys = cfg.pair_partitioning.split("/")
    publish.write_partitioned(pairs, paths.pairs_index, pair_keys, cfg.workers, sort_by=PAIR_ORDER)
    publish.write_partitioned(series, paths.series_index, ["split"], cfg.workers)
    items, hrefs = _write_items(paths, scans)
    coll = stac.collection(
        version=version,
        items=items,
        temporal=_temporal_extent(pairs),
        assets=_index_assets(paths, pairs, series, cfg, pair_keys),
        extra=_collection_extra(pairs, series, cfg, pair_keys, stats, extra),
    )
    if cfg.geoparquet and items:
        _add_geoparquet(coll, paths, items, scans)
    return stac.collection_dict(coll, hrefs)


def _midnight(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _write_geoparquet(item_dicts: list[dict], url: str) -> None:
    """The Items as stac-geoparquet, written by the library's own writer, all or nothing on any store.

    `stac_geoparquet.arrow.to_parquet` adds the GeoParquet `geo` metadata (WKB geometry, WGS 84, bbox
    covering) and the `stac-geoparquet` key that rustac, geopandas and DuckDB need to see the geometry;
    a bare `pq.write_table` left only an Arrow extension type they ignore. The file is written to local
    scratch first and then put with one atomic write (rename locally, one PUT on object stores), so a
    reader never sees a part (the file holds one row per frame, so it fits in memory).
    """
    from stac_geoparquet.arrow import parse_stac_items_to_arrow, to_parquet

    with storage.local_scratch("hmc-items-") as tmp:
        path = tmp / "mirror.parquet"  # scratch: the name on the store is the caller's `url`
        to_parquet(parse_stac_items_to_arrow(item_dicts), path)
        storage.write_bytes_atomic(url, path.read_bytes())


def _publish_or_discard(store: str, version: str, write: Callable[[], dict], keep: int) -> None:
    try:
        coll = write()
    except BaseException:
        publish.discard(store, version)
        raise
    publish.publish(store, version, coll, keep=keep)


def list_cubes(store_url: str) -> list[str]:
    """URLs of the complete cubes in the store's cubes folder (see layout.is_cube_name)."""
    cubes = StoreLayout(store_url).cubes
    loc = storage.location(cubes)
    if not loc.fs.exists(loc.path) or not loc.fs.isdir(loc.path):
        raise CatalogBuildError(f"{storage.redact(cubes)}: no cubes folder at this store")
    names = sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in loc.fs.ls(loc.path, detail=False))
    found = [n for n in names if is_cube_name(n)]
    if not found:
        raise CatalogBuildError(f"{storage.redact(cubes)}: no cubes (*.zarr) found")
    return [storage.join(cubes, n) for n in found]


def _scan_cubes(
    cubes: list[str],
    cfg: CatalogConfig,
    records: Mapping[int, dict] | None,
    progress: Callable[[str, int, int], None] | None,
    previous: incremental.Previous | None = None,
    store: str | None = None,
) -> tuple[list[CubeScan], list[str], dict[str, RunningStats], dict[str, RunningStats]]:
    """Scan every cube: (scans, what was left out and why, the merged statistics, those of the train split).

    An unreadable cube is left out and named (`cfg.strict`: the error is raised instead); two cubes
    of one frame are an error, since the catalog would hold the frame's pairs twice. Rows record each
    cube's path relative to `store` (StoreLayout.relative) as their cube_url.
    """
    scans: list[CubeScan] = []
    skipped: list[str] = []
    totals: dict[str, RunningStats] = {}
    train_totals: dict[str, RunningStats] = {}
    for url in cubes:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        counter = {"n": 0}

        def tick(name: str = name, counter: dict = counter) -> None:
            counter["n"] += 1
            if progress is not None:
                progress(name, counter["n"], 0)

        try:
            scan = scan_cube(
                url,
                statistics=cfg.statistics,
                annotations=records,
                workers=cfg.workers,
                on_pair=tick,
                known=None if previous is None else previous.known,
                ref=None if store is None else StoreLayout(store).relative(url),
            )
        except CubeUnreadableError as exc:
            if cfg.strict:
                raise
            log.warning("skipping cube: %s", exc)
            skipped.append(str(exc))
            continue
        if any(s.frame_id == scan.frame_id for s in scans):
            raise CatalogBuildError(
                f"{storage.redact(url)}: frame {scan.frame_id} appears in more than one cube"
            )
        skipped.extend(scan.skipped)
        scans.append(scan)
        for key, st in scan.stats.items():
            totals.setdefault(key, RunningStats()).merge(st)
        for key, st in scan.train_stats.items():
            train_totals.setdefault(key, RunningStats()).merge(st)
    return scans, skipped, totals, train_totals


def build_catalog(
    store_url: str | os.PathLike[str],
    config: CatalogConfig | None = None,
    *,
    annotations: str | os.PathLike[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BuildReport:
    """Catalog the cubes under STORE/cubes/ and publish STAC, pair index, series table and statistics.

    A cube that cannot be read is left out and named in the report (`config.strict`: the build fails
    instead); the others are catalogued. `annotations` optionally adds what cubes do not store.
    `progress(cube_name, pairs_done, pairs_total)` is called as pairs are scanned. Two builds on one store
    serialise on the store's lock: the second stops with StoreBusyError and publishes nothing.
    """
    store = storage.check_url(store_url, "output")
    list_cubes(store)  # a store without cubes is refused before anything (the lock included) is written
    with store_lock(store, "catalog-build"):
        return _build_catalog(store, config, annotations=annotations, progress=progress)


def _build_catalog(
    store: str,
    config: CatalogConfig | None,
    *,
    annotations: str | os.PathLike[str] | None,
    progress: Callable[[str, int, int], None] | None,
) -> BuildReport:
    cfg = config or CatalogConfig()
    cubes = list_cubes(store)
    records = None
    recs = None
    if annotations is not None:
        recs, _ = load_annotations(annotations, strict=True)
        records = {r["uniqueID"]: r for r in recs}
    sig = incremental.signature(cfg.statistics, recs)
    previous = incremental.load_previous(store, sig, cfg.series_length, cfg.seed) if cfg.incremental else None
    scans, skipped, totals, train_totals = _scan_cubes(cubes, cfg, records, progress, previous, store)
    if not scans:
        raise CatalogBuildError(f"{storage.redact(store)}: no readable cube; " + "; ".join(skipped))
    pairs = rows_to_table([r for s in scans for r in s.rows])
    reuse = None if previous is None else previous.series()
    series = build_series(pairs, cfg.series_length, cfg.seed, reuse=reuse)
    names = stac.frame_names()
    frames = [volcano_split.frame_volcanoes(s.frame_id, names, s.bbox) for s in scans]
    pairs, series, held_out = with_volcano_split(pairs, series, frames)
    version = publish.new_version()
    extra: dict[str, object] = {
        hx.SOURCE: "cubes",
        hx.SKIPPED: skipped,
        hx.SPLIT_SCHEMES: volcano_split.split_schemes_record(pairs, held_out),
    }
    if cfg.statistics:
        extra[hx.STATISTICS_TRAIN] = _statistics_entry(train_totals)
        extra[hx.STATISTICS_TRAIN_VOLCANO] = _statistics_entry(_volcano_train_statistics(scans, held_out))
    _publish_or_discard(
        store,
        version,
        lambda: _write_version(
            store,
            version,
            pairs,
            series,
            scans,
            cfg,
            totals if cfg.statistics else None,
            extra,
            incremental.cache_table(scans, sig),
        ),
        cfg.keep_versions,
    )
    return BuildReport(
        store,
        version,
        pairs.num_rows,
        series.num_rows,
        [s.frame_id for s in scans],
        skipped,
        table2_counts(pairs, series),
        reused_pairs=sum(s.reused for s in scans),
        reused_from=None if previous is None else previous.version,
    )


def catalog_from_annotations(
    annotations: str | os.PathLike[str],
    out: str | os.PathLike[str],
    available: str | os.PathLike[str] | None = None,
    config: CatalogConfig | None = None,
) -> BuildReport:
    """Pair index and series table from annotation JSON alone, published under OUT/catalog/.

    `available` (quality_timeseries.json or a list of uniqueIDs) names the pairs that have a
    product; without it every annotated pair is taken to have one. `cube_url` stays null.
    """
    cfg = config or CatalogConfig(statistics=False, strict=True)  # no cubes to stream; a bad file fails
    store = storage.normalize(out)
    records, rejected = load_annotations(annotations, strict=cfg.strict)
    avail = load_available(available) if available is not None else None
    rows = [annotation_row(r, has_product=(avail is None or r["uniqueID"] in avail)) for r in records]
    pairs = rows_to_table(rows)
    series = build_series(pairs, cfg.series_length, cfg.seed)
    names = stac.frame_names()
    frames = [volcano_split.frame_volcanoes(f, names) for f in sorted(set(pairs["frame_id"].to_pylist()))]
    pairs, series, held_out = with_volcano_split(pairs, series, frames)
    version = publish.new_version()
    skipped = [r.reason for r in rejected]
    extra = {
        hx.SPLIT_SCHEMES: volcano_split.split_schemes_record(pairs, held_out),
        hx.SOURCE: "annotations",
        hx.ANNOTATIONS: storage.redact(storage.normalize(annotations)),
        hx.AVAILABLE: storage.redact(storage.normalize(available)) if available is not None else None,
        hx.SKIPPED: skipped,
    }
    with store_lock(store, "catalog-build"):  # the same lock as `hmc catalog build`: one publisher at a time
        _publish_or_discard(
            store,
            version,
            lambda: _write_version(store, version, pairs, series, [], cfg, None, extra),
            cfg.keep_versions,
        )
    return BuildReport(
        store, version, pairs.num_rows, series.num_rows, [], skipped, table2_counts(pairs, series)
    )
