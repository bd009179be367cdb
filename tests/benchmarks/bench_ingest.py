"""Ingest benchmark: throughput with 1 and 2 Ray workers on the same sources (side by side, one run),
peak memory per task, and crop-read speed of candidate chunk/codec layouts.

Usage: .venv/bin/python tests/benchmarks/bench_ingest.py [--quick]
The LAST stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import numpy as np  # noqa: E402
import zarr  # noqa: E402
from numcodecs import Blosc  # noqa: E402
from zarr.codecs import BloscCodec, ZstdCodec  # noqa: E402


def ingest_throughput(tmp: Path, quick: bool) -> dict:
    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.ingest.synthetic import SynthConfig, generate

    size = 256 if quick else 512
    pairs = 8 if quick else 16
    src = tmp / "sources"
    generate(SynthConfig(frames=1, pairs=pairs, height=size, width=size, seed=7), src)
    out: dict = {"frame": f"{size}x{size}", "pairs": pairs}
    for workers in (1, 2):
        cfg = IngestConfig(
            sources=str(src), out=str(tmp / f"store{workers}"), workers=workers, pairs_per_task=1
        )
        s = run_ingest(cfg)
        mb = s.bytes_written / 1e6
        out[f"workers_{workers}"] = {
            "seconds": round(s.seconds, 2),
            "mb_written": round(mb, 2),
            "mb_stored": round(s.bytes_stored / 1e6, 2),
            "throughput_mb_s": round(mb / s.seconds, 3),
            "pairs_written": s.pairs_written,
            "peak_rss_mb_per_task": round(s.peak_rss_mb_per_task, 1),
        }
    out["speedup"] = round(out["workers_1"]["seconds"] / out["workers_2"]["seconds"], 3)
    return out


def _phase(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """Wrapped phase with a smooth signal plus noise (compresses about like a real interferogram)."""
    yy, xx = np.mgrid[0:h, 0:w].astype("float32")
    out = np.empty((n, 1, h, w), "float32")
    for k in range(n):
        smooth = 6 * np.sin(xx / (90 + 10 * k)) * np.cos(yy / 70) + 0.004 * (xx + yy)
        out[k, 0] = np.angle(np.exp(1j * (smooth + rng.normal(0, 0.6, (h, w))))).astype("float32")
    return out


def crop_reads(tmp: Path, quick: bool) -> dict:
    h, w = (1024, 1024) if quick else (1070, 1409)  # the published sample is 1070 x 1409
    n = 4 if quick else 8
    crop = 512
    reads = 40 if quick else 120
    rng = np.random.default_rng(0)
    data = _phase(rng, n, h, w)
    lz4 = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    layouts = {
        "published v2 whole slice (1,1,H,W) blosc-lz4": dict(
            zarr_format=2,
            chunks=(1, 1, h, w),
            compressors=[Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)],
        ),
        "v3 chunks (1,1,256,256) blosc-lz4": dict(zarr_format=3, chunks=(1, 1, 256, 256), compressors=[lz4]),
        "v3 chunks (1,1,256,256) zstd": dict(
            zarr_format=3, chunks=(1, 1, 256, 256), compressors=[ZstdCodec(level=5)]
        ),
        "v3 shards (1,1,H,W) of (1,1,256,256) blosc-lz4": dict(
            zarr_format=3,
            chunks=(1, 1, 256, 256),
            shards=(1, 1, -(-h // 256) * 256, -(-w // 256) * 256),
            compressors=[lz4],
        ),
    }
    starts = [
        (int(rng.integers(0, n)), int(rng.integers(0, h - crop)), int(rng.integers(0, w - crop)))
        for _ in range(reads)
    ]
    table = {}
    for name, kw in layouts.items():
        path = tmp / f"crop-{abs(hash(name))}.zarr"
        arr = zarr.create_array(str(path), shape=data.shape, dtype="float32", **kw)
        arr[...] = data
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        files = sum(1 for p in path.rglob("*") if p.is_file())
        arr = zarr.open_array(str(path), mode="r")
        arr[0, 0, :crop, :crop]  # warm imports and caches
        t0 = time.perf_counter()
        for k, r, c in starts:
            block = arr[k, 0, r : r + crop, c : c + crop]
        dt = time.perf_counter() - t0
        assert block.shape == (crop, crop)
        np.testing.assert_array_equal(arr[starts[0][0], 0, :5, :5], data[starts[0][0], 0, :5, :5])
        table[name] = {
            "crops_per_s": round(reads / dt, 1),
            "mb_stored": round(size / 1e6, 2),
            "objects": files,
        }
    published = next(v for k, v in table.items() if k.startswith("published"))["crops_per_s"]
    best = max(table, key=lambda k: table[k]["crops_per_s"])
    return {
        "frame": f"{h}x{w}",
        "crop": crop,
        "reads": reads,
        "layouts": table,
        "best": best,
        "ratio_best_over_published": round(table[best]["crops_per_s"] / published, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        crops = crop_reads(Path(tmp), args.quick)
        print(json.dumps(crops, indent=1))
        ingest = ingest_throughput(Path(tmp), args.quick)
    result = {
        "benchmark": "ingest",
        "quick": args.quick,
        "throughput_mb_s": {
            "1": ingest["workers_1"]["throughput_mb_s"],
            "2": ingest["workers_2"]["throughput_mb_s"],
        },
        "speedup": ingest["speedup"],
        "peak_rss_mb_per_task": max(
            ingest["workers_1"]["peak_rss_mb_per_task"], ingest["workers_2"]["peak_rss_mb_per_task"]
        ),
        "ingest": ingest,
        "crop_reads": crops,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
