"""Incremental catalog builds: the previous published version is the cache of what the cubes hold.

A build writes, beside its index, `cache/scan.parquet`: per cube its version token (platform.cube) and
DEM statistics, per catalogued pair its own normalisation statistics. The next build opens every cube
(metadata, coordinates and pair flags only) and, where the opened view descends from the version the
previous build read (`platform.cube.descends_from`: the same token, or grown from it by appends, which
never change a published pair), takes each pair the previous catalog lists from its row and cached
statistics instead of reading it; new pairs, new cubes and cubes that changed otherwise (a rebuild, a
partial rewrite after a changed input: a new token without that history) are read. Rows and statistics
are merged in the order a full scan merges them, so the published catalog equals a full rebuild's
(tested row for row, Items included).

The cache is used only when the previous build had the same settings that shape rows and statistics
(`signature`); anything else, an unreadable cache included, falls back to a full scan. Hook for finer
change detection: `Previous.known` decides per cube; a cube rewritten in part (ingest's ledger records
which write tasks ran) could keep the pairs of the tasks that did not run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from hephaestus.catalog.pairs import PAIR_SCHEMA
from hephaestus.catalog.publish import read_pointer
from hephaestus.catalog.read import read_version_pairs, read_version_series
from hephaestus.catalog.scan import CubeScan, KnownCube, KnownPair, RunningStats
from hephaestus.catalog.series import reusable_series
from hephaestus.platform import stac_extension as hx
from hephaestus.platform import storage
from hephaestus.platform.cube import descends_from
from hephaestus.platform.layout import StoreLayout

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
"""Bumped whenever what a scan puts in a row or its statistics changes: older caches are then ignored."""
_SIGNATURE_KEY = b"hephaestus:scan_signature"

CACHE_SCHEMA = pa.schema(
    [
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("cube_version", pa.string()),
        pa.field("primary_date", pa.date32()),  # null: the cube's own row (DEM statistics)
        pa.field("secondary_date", pa.date32()),
        pa.field("key", pa.string()),  # statistics key; null: none (statistics off)
        pa.field("count", pa.int64()),
        pa.field("mean", pa.float64()),
        pa.field("m2", pa.float64()),
    ]
)


def signature(statistics: bool, annotations: Sequence[dict] | None) -> str:
    """What, besides the cubes, shapes the scanned rows and statistics: a build reuses only its equal's."""
    ann = None
    if annotations is not None:
        text = json.dumps(sorted(annotations, key=lambda r: r["uniqueID"]), sort_keys=True, default=str)
        ann = hashlib.sha256(text.encode()).hexdigest()
    return json.dumps({"format": CACHE_FORMAT, "statistics": statistics, "annotations": ann}, sort_keys=True)


def cache_table(scans: Sequence[CubeScan], sig: str) -> pa.Table:
    """The scan cache of a build: one row per cube (DEM) and per (pair, statistics key)."""
    cols: dict[str, list] = {f.name: [] for f in CACHE_SCHEMA}

    def add(
        scan: CubeScan, primary: object, secondary: object, key: str | None, st: RunningStats | None
    ) -> None:
        for name, value in (
            ("frame_id", scan.frame_id),
            ("cube_version", scan.cube_version),
            ("primary_date", primary),
            ("secondary_date", secondary),
            ("key", key),
            ("count", None if st is None else st.count),
            ("mean", None if st is None else st.mean),
            ("m2", None if st is None else st.m2),
        ):
            cols[name].append(value)

    for scan in scans:
        dem = scan.stats.get("dem")
        add(scan, None, None, "dem" if dem is not None else None, dem)
        for primary, secondary, stats in scan.pair_stats:
            for key, st in stats.items():
                add(scan, primary, secondary, key, st)
    table = pa.table(cols, schema=CACHE_SCHEMA)
    return table.replace_schema_metadata({_SIGNATURE_KEY: sig.encode()})


def write_cache(table: pa.Table, url: str) -> None:
    loc = storage.location(url)
    if storage.is_local(url):
        loc.fs.makedirs(loc.path.rsplit("/", 1)[0], exist_ok=True)
    with loc.fs.open(loc.path, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")


@dataclass
class Previous:
    """The previous published version, as a cache: per frame its cube version, DEM stats and pairs."""

    version: str
    cubes: dict[str, tuple[str | None, RunningStats | None]]
    pairs: dict[str, dict[tuple[object, object], KnownPair]]
    series: Callable[[], dict[tuple, list[dict]]]
    """The previous series by their group's inputs (series.reusable_series), or {} when the previous
    catalog's series length or seed differ."""

    def known(self, frame_id: str, attrs: Mapping[str, object]) -> KnownCube | None:
        """What the previous build read of this frame's cube, when the opened view descends from it."""
        token, dem = self.cubes.get(frame_id, (None, None))
        if token is None or not descends_from(attrs, token):
            return None
        return KnownCube(self.pairs.get(frame_id, {}), dem)


def load_previous(store: str, sig: str, series_length: int, seed: int) -> Previous | None:
    """The published version as a cache, or None (no catalog, no cache, other settings, unreadable)."""
    try:
        coll = read_pointer(store)
        version = str(coll[hx.VERSION])
        paths = StoreLayout(store).catalog_version(version)
        loc = storage.location(paths.scan_cache)
        with loc.fs.open(loc.path, "rb") as fh:
            cache = pq.read_table(fh)
        if (cache.schema.metadata or {}).get(_SIGNATURE_KEY, b"").decode() != sig:
            log.info("catalog cache of %s: other build settings, full scan", version)
            return None
        rows = read_version_pairs(paths)
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be used means a full scan, never a failure
        log.info("no usable catalog cache (%s: %s): full scan", exc.__class__.__name__, exc)
        return None
    cubes: dict[str, tuple[str | None, RunningStats | None]] = {}
    stats: dict[tuple[str, object, object], dict[str, RunningStats]] = {}
    for r in cache.to_pylist():
        st = None if r["key"] is None else RunningStats(r["count"], r["mean"], r["m2"])
        if r["primary_date"] is None:
            cubes[r["frame_id"]] = (r["cube_version"], st)
        elif st is not None:
            stats.setdefault((r["frame_id"], r["primary_date"], r["secondary_date"]), {})[r["key"]] = st
    pairs: dict[str, dict[tuple[object, object], KnownPair]] = {}
    for row in rows.select(PAIR_SCHEMA.names).to_pylist():
        frame, key = row["frame_id"], (row["primary_date"], row["secondary_date"])
        pairs.setdefault(frame, {})[key] = KnownPair(row, stats.get((frame, *key), {}))

    def series() -> dict[tuple, list[dict]]:
        if coll.get(hx.SERIES_LENGTH) != series_length or coll.get(hx.SEED) != seed:
            return {}
        try:
            table = read_version_series(paths)
        except Exception as exc:  # noqa: BLE001 - no reusable series means computing them, never a failure
            log.info("previous series unreadable (%s): recomputed", exc)
            return {}
        return reusable_series(rows, table)

    return Previous(version, cubes, pairs, series)
