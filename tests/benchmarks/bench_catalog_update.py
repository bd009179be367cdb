"""Incremental catalog update vs full build: a 1,000-pair store gains one pair (issue 16 item 2).

Two frames (zarr v3 and v2, 64 x 64 px by default; pair variables in one chunk each, as ingest writes
them) hold 1,000 pairs, each cube stamped with a version token as ingest stamps it. A full `build_catalog` publishes the first catalog; then frame A grows by one
primary date that forms one new pair (an append: the new token records the old one in its history).
Then, interleaved, `repeats` times each, from the same starting catalog (restored before every run):
  incremental:  `hmc catalog build` as it runs by default (reads the one new pair, reuses 1,000),
  full:         the same build with `incremental: false` (reads every pair again),
and the two published pair indexes are checked equal. Goal: incremental < 10 % of full.
Usage: .venv/bin/python tests/benchmarks/bench_catalog_update.py [--quick] [--size PX] [--repeats N]
(--quick: 32 px, one repeat). The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from hephaestus.catalog import CatalogConfig, build_catalog, read_pairs  # noqa: E402
from hephaestus.platform.cube import HISTORY_ATTR, VERSION_ATTR  # noqa: E402

from factories import make_cube_dataset, write_cube  # noqa: E402

FRAME_A, FRAME_B = "124D_04854_171313", "001A_00001_000001"
# primaries every 12 days, secondaries every 6 from day 6: pair (i, j) exists when j >= 2 i, so
# P primaries and S secondaries give P * S - P * (P - 1) pairs: 10 x 59 -> 500 a frame
P, S = 10, 59


def _cubes(size: int) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """(A before the append, A after it, B): before + B = 1,000 pairs; the append adds one more primary
    date forming exactly one pair (a new group: the series of the others are unchanged)."""
    after = make_cube_dataset(
        frame_id=FRAME_A, n_primary=P + 1, n_secondary=S, height=size, width=size, seed=1
    )
    new = np.flatnonzero(after["valid_date_pair"].values[P])
    for j in new[1:]:  # keep the new primary's first pair only
        after["valid_date_pair"].values[P, j] = False
        after["unique_id"].values[P, j] = ""
    after.attrs.update({VERSION_ATTR: "cv-a2", HISTORY_ATTR: ["cv-a1"]})
    before = after.isel(primary_date=slice(0, P)).copy()
    before.attrs = {k: v for k, v in after.attrs.items() if k != HISTORY_ATTR} | {VERSION_ATTR: "cv-a1"}
    b = make_cube_dataset(
        frame_id=FRAME_B, n_primary=P, n_secondary=S, height=size, width=size, seed=2, first_id=10_000
    )
    b.attrs[VERSION_ATTR] = "cv-b1"
    return before, after, b


def _timed_build(store: Path, cfg: CatalogConfig) -> tuple[float, object]:
    t0 = time.perf_counter()
    report = build_catalog(store, cfg)
    return time.perf_counter() - t0, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="32 px cubes, one repeat")
    ap.add_argument("--size", type=int, default=None, help="cube height and width in pixels (default 64)")
    ap.add_argument("--repeats", type=int, default=None, help="interleaved runs of each build (default 3)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    size = args.size or (32 if args.quick else 64)
    repeats = args.repeats or (1 if args.quick else 3)
    cfg = CatalogConfig(workers=args.workers, keep_versions=2)
    full_cfg = cfg.model_copy(update={"incremental": False})

    with tempfile.TemporaryDirectory(prefix="bench-catalog-update-") as tmp:
        store = Path(tmp) / "store"
        t0 = time.perf_counter()
        before, after, cube_b = _cubes(size)
        write_cube(store / "cubes" / f"{FRAME_A}.zarr", before, 3, whole_pair_scalars=True)
        write_cube(store / "cubes" / f"{FRAME_B}.zarr", cube_b, 2, whole_pair_scalars=True)
        first_s, first = _timed_build(store, full_cfg)
        assert first.pairs == 1000, first.pairs
        snapshot = Path(tmp) / "catalog-before"
        shutil.copytree(store / "catalog", snapshot)
        write_cube(store / "cubes" / f"{FRAME_A}.zarr", after, 3, whole_pair_scalars=True)  # the append
        print(f"store written and first catalog built in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

        inc_s, full_s = [], []
        for _ in range(repeats):
            for which, times, c in (("incremental", inc_s, cfg), ("full", full_s, full_cfg)):
                shutil.rmtree(store / "catalog")
                shutil.copytree(snapshot, store / "catalog")  # the catalog before the append, every time
                seconds, report = _timed_build(store, c)
                times.append(seconds)
                tables = read_pairs(store)
                if which == "incremental":
                    inc_report, inc_pairs = report, tables
                else:
                    full_pairs = tables
                print(f"{which}: {seconds:.2f} s, {report.reused_pairs} pairs reused", file=sys.stderr)
        assert inc_report.pairs == 1001 and inc_report.reused_pairs == 1000, inc_report
        assert inc_pairs.equals(full_pairs), "incremental and full catalogs differ"

    inc, full = statistics.median(inc_s), statistics.median(full_s)
    ratio = inc / full
    result = {
        "benchmark": "catalog_update",
        "pairs_before": 1000,
        "new_pairs": 1,
        "cube_px": size,
        "repeats": repeats,
        "first_full_build_s": round(first_s, 2),
        "incremental_s": round(inc, 3),
        "full_s": round(full, 3),
        "incremental_runs_s": [round(t, 3) for t in inc_s],
        "full_runs_s": [round(t, 3) for t in full_s],
        "ratio": round(ratio, 4),
        "reused_pairs": inc_report.reused_pairs,
        "equal_to_full": True,
        "table": [
            {
                "figure": "catalog update after one new pair in a 1,000-pair store, share of a full build",
                "value": f"{ratio * 100:.1f} % ({inc:.2f} s vs {full:.2f} s)",
                "goal": "< 10 %",
                "met": ratio < 0.10,
            },
            {
                "figure": "incremental catalog equals a full rebuild (pair index, row for row)",
                "value": "yes",
                "goal": "equal",
                "met": True,
            },
        ],
        "date": dt.date.today().isoformat(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
