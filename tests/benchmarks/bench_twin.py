"""Twin benchmark: the whole synthetic twin (38 frames, 19,919 pairs) through synth -> ingest -> catalog,
Table 2 from the catalog built on the cubes (against the paper's, or for a subset against the counts
computed from the real annotations), and per stage the wall time, peak memory and throughput per core.

Each stage runs in its own process so that its peak RSS is its own (ingest's Ray workers report
theirs through the ingest summary). The default scale (0.03: frames of 32 x 42 pixels) keeps the whole
twin inside a 2-core, 24 GiB machine; the stores it writes go under --work (a temporary folder).

Usage: .venv/bin/python tests/benchmarks/bench_twin.py [--scale 0.03] [--frames all|F1,F2] [--workers 2]
       [--quick] (two frames, 54 + 279 pairs)
The LAST stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from perf_table import table_row  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HEPHAESTUS = ROOT.parent / "shared" / "data" / "hephaestus"
QUICK_FRAMES = ("155D_02484_191814", "012D_07075_080504")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def _synth(annotations: str, out: str, frames: list[str] | None, scale: float) -> dict:
    from hephaestus.ingest.synthetic.twin import generate_twin

    t = time.perf_counter()
    m = generate_twin(annotations, out, frames_wanted=frames, scale=scale, seed=0)
    return {
        "seconds": time.perf_counter() - t,
        "pairs": m.pairs,
        "frames": len(m.frames),
        "files": len(m.paths),
        "peak_rss_mb": _peak_mb(),
    }


def _ingest(sources: str, store: str, workers: int) -> dict:
    import ray

    from hephaestus.ingest import IngestConfig, run_ingest

    ray.init(address="local", num_cpus=workers, include_dashboard=False, logging_level="ERROR")
    try:
        t = time.perf_counter()
        s = run_ingest(IngestConfig(sources=sources, out=store, workers=workers))
        seconds = time.perf_counter() - t
    finally:
        ray.shutdown()
    return {
        "seconds": seconds,
        "pairs": s.pairs_written + s.pairs_without_product,
        "pairs_written": s.pairs_written,
        "pairs_quarantined": s.pairs_quarantined,
        "frames_failed": len(s.frames_failed),
        "mb_stored": s.bytes_stored / 1e6,
        "peak_rss_mb": _peak_mb(),
        "peak_rss_mb_per_task": s.peak_rss_mb_per_task,
    }


def _catalog(store: str, workers: int) -> dict:
    from hephaestus.catalog import build_catalog
    from hephaestus.catalog.build import CatalogConfig

    t = time.perf_counter()
    report = build_catalog(store, CatalogConfig(workers=workers))
    return {
        "seconds": time.perf_counter() - t,
        "pairs": report.pairs,
        "series": report.series,
        "table2": report.counts,
        "peak_rss_mb": _peak_mb(),
    }


def _in_child(fn, *args):  # type: ignore[no-untyped-def]
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _expected(frames: list[str] | None) -> dict:
    """Table 2 from the real annotations and the authors' index with the paper's rule (written in the
    tests, independent of catalog/); equal to the paper's for the whole set."""
    sys.path.insert(0, str(ROOT / "tests" / "ingest" / "synthetic"))
    import tarfile

    from table2 import table2

    records = []
    with tarfile.open(HEPHAESTUS / "annotations.tar.gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".json"):
                r = json.load(tar.extractfile(member))
                if frames is None or r["frameID"] in frames:
                    records.append(r)
    index = json.loads((HEPHAESTUS / "quality_timeseries.json").read_text())
    usable = {u for f in index.values() for e in f.values() for u in e["uniqueID"]}
    return table2(records, usable)


def _table(result: dict, stages: dict, workers: int) -> list[dict]:
    """The README rows: per stage pairs/s/core and peak RSS, and whether Table 2 came out right."""
    what = f"{result['frames']} frames, {result['pairs']} pairs, scale {result['scale']}"
    reference = (
        "the paper's Table 2" if result["expected_is_paper"] else "the counts from the real annotations"
    )
    rows = [
        table_row(
            f"twin ({what}): {name} pairs/s/core, peak RSS"
            + (f" ({workers} Ray workers)" if name == "ingest" else ""),
            f"{s['pairs_per_s_per_core']:.2f} pairs/s/core, {s['peak_rss_mb']:.0f} MB",
        )
        for name, s in stages.items()
    ]
    rows.append(
        table_row(
            f"twin ({what}): Table 2 from the catalog of the cubes",
            "equal" if result["table2_matches_expected"] else "different",
            f"equals {reference}",
            bool(result["table2_matches_expected"]),
        )
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.03)
    ap.add_argument("--frames", default="all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="two frames (333 pairs)")
    ap.add_argument("--work", default=None, help="folder for the sources and the store (default: temporary)")
    args = ap.parse_args()
    frames = None if args.frames == "all" else args.frames.split(",")
    if args.quick:
        frames = list(QUICK_FRAMES)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        sources, store = str(Path(tmp) / "sources"), str(Path(tmp) / "store")
        stages = {
            "synth": _in_child(_synth, str(HEPHAESTUS / "annotations.tar.gz"), sources, frames, args.scale),
            "ingest": _in_child(_ingest, sources, store, args.workers),
            "catalog": _in_child(_catalog, store, args.workers),
        }
    cores = {"synth": 1, "ingest": args.workers, "catalog": 1}
    for name, s in stages.items():
        s["pairs_per_s_per_core"] = round(s["pairs"] / s["seconds"] / cores[name], 3)
        s["cores"] = cores[name]
        print(
            f"{name:8s} {s['seconds']:8.1f} s  peak {s['peak_rss_mb']:7.0f} MB  "
            f"{s['pairs_per_s_per_core']:.2f} pairs/s/core"
        )
    table = stages["catalog"].pop("table2")
    expected = _expected(frames)
    print(f"{'split':6s} {'pairs +':>8s} {'pairs -':>8s} {'series +':>9s} {'series -':>9s}")
    for split, c in table.items():
        print(
            f"{split:6s} {c['pairs_positive']:8d} {c['pairs_negative']:8d} "
            f"{c['series_positive']:9d} {c['series_negative']:9d}"
        )
    result = {
        "frames": stages["synth"]["frames"],
        "pairs": stages["synth"]["pairs"],
        "scale": args.scale,
        "workers": args.workers,
        "table2": table,
        "table2_matches_expected": table == expected,
        "expected_is_paper": frames is None,
        "stages": {
            k: {kk: (round(vv, 3) if isinstance(vv, float) else vv) for kk, vv in v.items()}
            for k, v in stages.items()
        },
        "total_seconds": round(sum(s["seconds"] for s in stages.values()), 1),
    }
    result["table"] = _table(result, stages, args.workers)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
