"""Latency of STAC item search over a 1,000,000-item stac-geoparquet file, per library.

    python tests/benchmarks/bench_search.py [--quick] [--items N] [--repeat R]

Synthetic items like the catalog's (frame ids, point and polygon footprints, start/end datetimes,
hephaestus:* counts) are written once with stac_geoparquet's writer (GeoParquet metadata included), then
four queries run against the file with each candidate:

- rustac: `rustac.DuckdbClient.search` (its own DuckDB + spatial extension), what catalog/search.py uses;
- cql2+duckdb: the filter converted by `cql2` to SQL, run by the project's duckdb over read_parquet
  (the bbox through the stac-geoparquet `bbox` struct: duckdb 2.0 has no spatial extension offline).

stac-fastapi-geoparquet serves the same rustac DuckdbClient over HTTP, so it is not timed separately.
The last stdout line is one JSON object: {library: {query: seconds (best of R)}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

BBOX = [14.0, 37.0, 16.0, 39.0]
DATETIME = ("2020-03-01T00:00:00Z", "2020-03-31T00:00:00Z")
FILTER = '"hephaestus:positive_pairs" >= 40'


def synthetic_items(n: int, seed: int = 0) -> pa.Table:
    """n Items as a stac-geoparquet Arrow table: half point, half 0.2-degree polygon footprints."""
    import shapely

    rng = np.random.default_rng(seed)
    lon = rng.uniform(-180, 179.8, n)
    lat = rng.uniform(-80, 79.8, n)
    points = shapely.points(lon, lat)
    boxes = shapely.box(lon, lat, lon + 0.2, lat + 0.2)
    is_point = np.arange(n) % 2 == 0
    geoms = np.where(is_point, points, boxes)
    east = np.where(is_point, lon, lon + 0.2)
    north = np.where(is_point, lat, lat + 0.2)
    start = np.datetime64("2016-01-01", "s") + rng.integers(0, 8 * 365 * 86400, n).astype("timedelta64[s]")
    end = start + rng.integers(86400, 180 * 86400, n).astype("timedelta64[s]")
    ids = [f"{i % 1000:03d}A_{i // 1000:05d}_{i:06d}" for i in range(n)]
    pairs = rng.integers(1, 100, n)
    ts = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "type": pa.array(["Feature"] * n),
            "stac_version": pa.array(["1.1.0"] * n),
            "id": pa.array(ids),
            "geometry": pa.array(shapely.to_wkb(geoms), pa.binary()),
            "bbox": pa.StructArray.from_arrays(
                [pa.array(lon), pa.array(lat), pa.array(east), pa.array(north)],
                ["xmin", "ymin", "xmax", "ymax"],
            ),
            "collection": pa.array(["hephaestus-minicubes"] * n),
            "datetime": pa.nulls(n, ts),
            "start_datetime": pa.array(start.astype("datetime64[us]"), ts),
            "end_datetime": pa.array(end.astype("datetime64[us]"), ts),
            "hephaestus:frame_id": pa.array(ids),
            "hephaestus:pairs": pa.array(pairs),
            "hephaestus:usable_pairs": pa.array(pairs),
            "hephaestus:positive_pairs": pa.array(rng.integers(0, 50, n)),
        }
    )


def _best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t0)
    return min(times), count


def rustac_queries(path: str, some_ids: list[str]) -> dict[str, Callable[[], int]]:
    """The platform's own search path (`search_file`: parameters folded into one CQL2 filter) over rustac."""
    from hephaestus.catalog.search import client, search_file

    c = client()
    return {
        "bbox": lambda: len(search_file(path, bbox=BBOX, duckdb_client=c)),
        "datetime": lambda: len(search_file(path, datetime="/".join(DATETIME), duckdb_client=c)),
        "cql2_filter": lambda: len(search_file(path, filter=FILTER, duckdb_client=c)),
        "ids": lambda: len(search_file(path, ids=some_ids, duckdb_client=c)),
    }


def cql2_duckdb_queries(path: str, some_ids: list[str]) -> dict[str, Callable[[], int]]:
    import cql2
    import duckdb

    con = duckdb.connect()
    src = f"read_parquet('{path}')"

    def run(where: str, params: list | None = None) -> int:
        return con.sql(f"SELECT * FROM {src} WHERE {where}", params=params).to_arrow_table().num_rows

    w, s, e, n = BBOX
    bbox = f"bbox.xmin <= {e} AND bbox.xmax >= {w} AND bbox.ymin <= {n} AND bbox.ymax >= {s}"
    when = f"end_datetime >= TIMESTAMPTZ '{DATETIME[0]}' AND start_datetime <= TIMESTAMPTZ '{DATETIME[1]}'"
    return {
        "bbox": lambda: run(bbox),
        "datetime": lambda: run(when),
        "cql2_filter": lambda: run(cql2.parse_text(FILTER).to_sql()),
        "ids": lambda: run("id IN (SELECT UNNEST(?))", [some_ids]),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 items instead of 1,000,000")
    ap.add_argument("--items", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    n = args.items or (100_000 if args.quick else 1_000_000)
    from stac_geoparquet.arrow import to_parquet

    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        path = str(Path(tmp) / "items.parquet")
        t0 = time.perf_counter()
        table = synthetic_items(n)
        to_parquet(table, path)
        print(
            f"wrote {n} items in {time.perf_counter() - t0:.1f}s ({Path(path).stat().st_size / 1e6:.0f} MB)"
        )
        some_ids = [table["id"][i].as_py() for i in range(0, n, max(1, n // 10))][:10]
        del table
        results: dict[str, dict[str, float]] = {}
        for lib, make in (("rustac", rustac_queries), ("cql2+duckdb", cql2_duckdb_queries)):
            try:
                queries = make(path, some_ids)
            except Exception as exc:  # a candidate that cannot run here is reported, not fatal
                print(f"{lib}: unavailable ({exc})", file=sys.stderr)
                continue
            results[lib] = {}
            for name, fn in queries.items():
                seconds, count = _best(fn, args.repeat)
                results[lib][name] = round(seconds, 4)
                print(f"{lib:12s} {name:12s} {seconds * 1000:9.1f} ms  {count} items")
    print(json.dumps({"items": n, "latency_s": results}))


if __name__ == "__main__":
    main()
