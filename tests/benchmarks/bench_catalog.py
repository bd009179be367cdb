"""Build and query a world-scale synthetic pair index (10 million rows, as if every LiCSAR frame were catalogued).

The index is generated vectorised (numpy / pyarrow) with the pair index's exact schema: frames x
primary dates x secondary dates, 2014-2023 (so the null split outside the paper's windows appears),
about 9 % positives with mask boxes, annotation flags at the real data's rates. Then:
  build:  `publish.write_partitioned` (the catalog's own writer and sort order, zstd Parquet, 2 writer
          threads) plus the pointer switch -> rows per second; side by side for the two pair layouts:
          `split` (the default: one file per split, rows sorted by frame and dates, 64 Ki-row groups
          whose statistics let a frame read alone) and `split/frame_id` (the former default: one file
          per split and frame, 4,000 files for 1,000 frames);
  query:  DuckDB over the published views (`hephaestus.catalog.connect`), each query run 5 times
          after one warm-up, median latency:
            filtered count:  count(*) WHERE split = 'test' AND positive AND frame_id = <one frame>
            aggregation:     split x label (first class) x positive counts over all rows
          and `read_pairs(split, frame_id)` (one frame's pairs of one split: row groups pruned by
          statistics in the default layout, one file by path in the former).
Goals (issue 15 item 3, at 10 M rows, default layout): filtered count < 0.1 s, aggregation < 0.5 s,
one frame of one split < 0.1 s; with fewer rows the goals are shown but not judged.
Usage: .venv/bin/python tests/benchmarks/bench_catalog.py [--quick] [--rows N] [--frames F]
(--quick: 1 million rows). The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from hephaestus.catalog import connect, read_pairs
from hephaestus.catalog import publish as pub
from hephaestus.catalog.pairs import PAIR_ORDER, PAIR_SCHEMA
from hephaestus.catalog.series import SERIES_SCHEMA
from hephaestus.platform import schema
from hephaestus.platform.layout import StoreLayout

LABELS = np.array(["Non_Deformation", "Deformation", "Earthquake"])


def _split_codes(primary_days: np.ndarray) -> np.ndarray:
    """0 train, 1 val, 2 test, 3 none: the paper's windows, vectorised."""
    out = np.full(primary_days.shape, 3, dtype="int8")
    for code, (start, end) in enumerate(schema.SPLITS.values()):
        lo = np.datetime64(start, "D").astype("int64")
        hi = np.datetime64(end, "D").astype("int64")
        out[(primary_days >= lo) & (primary_days <= hi)] = code
    return out


def synthetic_index(n_rows: int, n_frames: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    per_frame = -(-n_rows // n_frames)
    frame_idx = np.repeat(np.arange(n_frames, dtype="int32"), per_frame)[:n_rows]
    # every frame: its primaries spread evenly over 2014-10-01 .. 2023-12-31 (so about 7 % of the
    # rows fall outside the paper's windows), 4 secondaries each, 6..24 days later
    k = np.arange(n_rows) - frame_idx.astype("int64") * per_frame
    epoch = np.datetime64("2014-10-01", "D").astype("int64")
    span = np.datetime64("2023-12-31", "D").astype("int64") - epoch
    n_primary = max(1, per_frame // 4)
    primary = epoch + (k // 4) * span // n_primary + (frame_idx % 6)
    secondary = primary + 6 * (1 + k % 4)
    split = _split_codes(primary)
    split_names = np.array(["train", "val", "test", None], dtype=object)
    frames = np.array(
        [f"{(i % 175) + 1:03d}{'AD'[i % 2]}_{i:05d}_{(i * 7919) % 1000000:06d}" for i in range(n_frames)]
    )
    label_code = rng.choice(3, size=n_rows, p=[0.91, 0.085, 0.005])
    positive = label_code > 0
    corrupted = rng.random(n_rows) < 0.016
    perr = np.where(rng.random(n_rows) < 0.025, rng.choice([2, 3], size=n_rows), 0).astype("int32")
    no_info = rng.random(n_rows) < 0.011
    has_product = rng.random(n_rows) > 0.001
    usable = has_product & ~corrupted & (perr == 0) & ~no_info
    h, w = 1070, 1409
    row0 = rng.integers(0, h - 64, n_rows)
    col0 = rng.integers(0, w - 64, n_rows)
    size = rng.integers(4, 64, n_rows)
    offsets = pa.array(np.arange(n_rows + 1, dtype="int32"))
    labels = pa.ListArray.from_arrays(offsets, _strings(label_code, LABELS))
    pos_offsets = np.concatenate([[0], np.cumsum(positive)]).astype("int32")
    n_pos = int(positive.sum())
    activity = pa.ListArray.from_arrays(pa.array(pos_offsets), _strings(np.zeros(n_pos, "int8"), ["Mogi"]))
    intensity = pa.ListArray.from_arrays(pa.array(pos_offsets), _strings(np.zeros(n_pos, "int8"), ["Low"]))

    def masked(values: np.ndarray, typ: pa.DataType) -> pa.Array:
        return pa.array(values, type=typ, mask=~positive)

    unique_id = np.arange(n_rows, dtype="int64") + 100_000
    cols = {
        "unique_id": pa.array(unique_id),
        "frame_id": pa.DictionaryArray.from_arrays(pa.array(frame_idx), pa.array(frames)).cast(pa.string()),
        "primary_date": pa.array(primary.astype("int32"), pa.int32()).cast(pa.date32()),
        "secondary_date": pa.array(secondary.astype("int32"), pa.int32()).cast(pa.date32()),
        "split": pa.array(split_names[split], pa.string()),
        "positive": pa.array(positive),
        "usable": pa.array(usable),
        "has_product": pa.array(has_product),
        "cube_url": pa.DictionaryArray.from_arrays(
            pa.array(frame_idx), pa.array(np.char.add(np.char.add("s3://hephaestus/cubes/", frames), ".zarr"))
        ).cast(pa.string()),
        "primary_index": pa.array((k // 4).astype("int32")),
        "secondary_index": pa.array((k // 4 + k % 4).astype("int32")),
        "height": pa.array(np.full(n_rows, h, dtype="int32")),
        "width": pa.array(np.full(n_rows, w, dtype="int32")),
        "label": labels,
        "activity_type": activity,
        "intensity_level": intensity,
        "phase": _strings(positive.astype("int8"), ["Rest", "Unrest"]),
        "confidence": pa.array(rng.choice([0.6, 0.8, 1.0], n_rows).astype("float32")),
        "corrupted": pa.array(corrupted),
        "processing_error": pa.array(perr),
        "glacier_fringes": pa.array(np.zeros(n_rows, dtype="int32")),
        "orbital_fringes": pa.array((rng.random(n_rows) < 0.007).astype("int32")),
        "atmospheric_fringes": pa.array(rng.integers(0, 4, n_rows).astype("int32")),
        "low_coherence": pa.array(rng.random(n_rows) < 0.17),
        "no_info": pa.array(no_info),
        "image_artifacts": pa.array(rng.random(n_rows) < 0.003),
        "is_crowd": pa.array(rng.random(n_rows) < 0.016),
        "caption": _strings(positive.astype("int8"), ["", "Deformation pattern near the summit."]),
        "n_polygons": pa.array(positive.astype("int32")),
        "deformation_pixels": masked((size * size).astype("int64"), pa.int64()),
        "mask_row_min": masked(row0.astype("int32"), pa.int32()),
        "mask_row_max": masked((row0 + size - 1).astype("int32"), pa.int32()),
        "mask_col_min": masked(col0.astype("int32"), pa.int32()),
        "mask_col_max": masked((col0 + size - 1).astype("int32"), pa.int32()),
    }
    return pa.Table.from_arrays([cols[f.name] for f in PAIR_SCHEMA], schema=PAIR_SCHEMA)


def _strings(codes: np.ndarray, values: object) -> pa.Array:
    """A plain string array from small-integer codes (vectorised, one contiguous chunk)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(list(values), pa.string())).cast(
        pa.string()
    )


def _median_latency(fn, repeats: int = 5) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(median wall seconds, median CPU seconds of this process, all threads): the CPU figure is what
    a loaded machine inflates least, so a run beside other work can still be read."""
    fn()  # warm-up (metadata, page cache)
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1 million rows instead of 10 million")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--frames", type=int, default=1000, help="distinct frames (partitions: frames x splits)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    n_rows = args.rows or (1_000_000 if args.quick else 10_000_000)

    t0 = time.perf_counter()
    table = synthetic_index(n_rows, args.frames)
    gen_s = time.perf_counter() - t0
    print(f"generated {n_rows:,} rows over {args.frames} frames in {gen_s:.1f} s", file=sys.stderr)

    frame = "002D_00001_007919"
    layouts = {}
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        for layout in (DEFAULT_LAYOUT, FORMER_LAYOUT):
            layouts[layout] = _build_and_query(
                table, str(Path(tmp) / layout.replace("/", "_")), layout, frame, args.workers
            )
            print(f"{layout}: {layouts[layout]}", file=sys.stderr)
    new, old = layouts[DEFAULT_LAYOUT], layouts[FORMER_LAYOUT]
    judged = n_rows >= 10_000_000
    result = {
        "benchmark": "catalog",
        "rows": n_rows,
        "frames": args.frames,
        "generate_s": round(gen_s, 2),
        "layout": DEFAULT_LAYOUT,
        "build_rows_per_s": new["build_rows_per_s"],
        "filtered_count_latency_s": new["filtered_count_latency_s"],
        "split_label_aggregation_latency_s": new["split_label_aggregation_latency_s"],
        "read_one_frame_one_split_latency_s": new["read_pairs_split_frame_latency_s"],
        "layouts": layouts,
        "default_vs_former": {
            "build_speedup": round(new["build_rows_per_s"] / old["build_rows_per_s"], 2),
            "filtered_count_speedup": round(
                old["filtered_count_latency_s"] / new["filtered_count_latency_s"], 2
            ),
            "aggregation_speedup": round(
                old["split_label_aggregation_latency_s"] / new["split_label_aggregation_latency_s"], 2
            ),
        },
        "table": _table(n_rows, new, old, judged),
        "duckdb": __import__("duckdb").__version__,
        "date": dt.date.today().isoformat(),
    }
    print(json.dumps(result))


DEFAULT_LAYOUT, FORMER_LAYOUT = "split", "split/frame_id"
GOALS_S = {
    "filtered_count_latency_s": ("filtered count (split, positive, one frame)", 0.1),
    "split_label_aggregation_latency_s": ("split x label x positive aggregation", 0.5),
    "read_pairs_split_frame_latency_s": ("one frame's pairs of one split (read_pairs)", 0.1),
}


def _table(n_rows: int, new: dict, old: dict, judged: bool) -> list[dict]:
    """README rows: each query in the default layout (with its goal) beside the former layout."""
    rows_txt = f"{n_rows / 1e6:g} M-row pair index"
    out = []
    for key, (what, goal) in GOALS_S.items():
        out.append(
            {
                "figure": f"catalog, {rows_txt}: {what}, `{DEFAULT_LAYOUT}` layout (default)",
                "value": f"{new[key]:.3f} s (former `{FORMER_LAYOUT}`: {old[key]:.3f} s)",
                "goal": f"< {goal} s at 10 M rows",
                "met": (new[key] < goal) if judged else None,
            }
        )
    out.append(
        {
            "figure": f"catalog, {rows_txt}: build (write + publish), files",
            "value": f"{new['build_rows_per_s'] / 1e6:.2f} M rows/s, {new['partition_files']} files "
            f"(former: {old['build_rows_per_s'] / 1e6:.2f} M rows/s, {old['partition_files']} files)",
            "goal": None,
            "met": None,
        }
    )
    return out


def _build_and_query(table: pa.Table, store: str, layout: str, frame: str, workers: int) -> dict:
    """Publish `table` as the pair index of a fresh store with a layout, then time the queries."""
    n_rows = table.num_rows
    keys = layout.split("/")
    version = pub.new_version()
    paths = StoreLayout(store).catalog_version(version)
    base = paths.url
    t0 = time.perf_counter()
    n_files = pub.write_partitioned(table, paths.pairs_index, keys, workers=workers, sort_by=PAIR_ORDER)
    pub.write_partitioned(SERIES_SCHEMA.empty_table(), paths.series_index, ["split"])
    pub.publish(store, version, {"type": "Collection", "id": "bench", pub.PARTITIONING_KEY: {"pairs": keys}})
    build_s = time.perf_counter() - t0
    size_mb = sum(p.stat().st_size for p in Path(base).rglob("*.parquet")) / 2**20

    con = connect(store)
    filtered_sql = f"SELECT count(*) FROM pairs WHERE split = 'test' AND positive AND frame_id = '{frame}'"
    agg_sql = "SELECT split, label[1] AS label, positive, count(*) AS n FROM pairs GROUP BY ALL ORDER BY ALL"
    filtered_count = con.sql(filtered_sql).fetchall()[0][0]
    agg_rows = con.sql(agg_sql).fetchall()
    assert sum(r[3] for r in agg_rows) == n_rows
    filtered_s, filtered_cpu = _median_latency(lambda: con.sql(filtered_sql).fetchall())
    agg_s, agg_cpu = _median_latency(lambda: con.sql(agg_sql).fetchall())
    con.close()
    part = read_pairs(store, split="test", frame_id=frame)
    assert part.num_rows > 0 and set(part["frame_id"].to_pylist()) == {frame}
    partition_s, partition_cpu = _median_latency(lambda: read_pairs(store, split="test", frame_id=frame))
    return {
        "partition_files": n_files,
        "index_mib": round(size_mb, 1),
        "build_s": round(build_s, 2),
        "build_rows_per_s": round(n_rows / build_s),
        "filtered_count": int(filtered_count),
        "filtered_count_latency_s": round(filtered_s, 4),
        "split_label_aggregation_latency_s": round(agg_s, 4),
        "aggregation_groups": len(agg_rows),
        "read_pairs_split_frame_latency_s": round(partition_s, 4),
        "read_pairs_split_frame_rows": part.num_rows,
        "cpu_s": {
            "filtered_count": round(filtered_cpu, 4),
            "split_label_aggregation": round(agg_cpu, 4),
            "read_pairs_split_frame": round(partition_cpu, 4),
        },
    }


if __name__ == "__main__":
    main()
