"""Where a crop's time goes in the loader: decode, normalise-and-place, writing a fresh crop, Python.

On the ingest default layout (one 1500 x 1500 cube, `bench_loader.build_cube`), single 512 px crops of 9
channels, pinned to one core, CPU time, best of 3 rounds. The loader's own compiled functions (place.py)
are called on the same stored chunks each crop touches (the DEM, one whole-frame chunk read once per
process, is left out):
  decode:           read and decode every touched chunk into the scratch tile, nothing else;
  + place (reused): decode, normalise each row of chunks into a band and stream it into one reused
                    channel buffer;
  + fresh crop:     the same into a new [8, 512, 512] array per crop (what a loader hands out);
  loader:           `MinicubeDataset.__getitem__` (adds planning in Python, the DEM, the mask, tensors).
The raw decode limit of bench_loader.py is the first column plus numcodecs' per-chunk calls; what a loader
adds beyond it is normalising and writing a crop that does not fit in cache (9.4 MB with the DEM).

Usage: .venv/bin/python tests/benchmarks/bench_loader_breakdown.py [--quick]
The LAST stdout line is one JSON object (with "table" rows).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "train" / "data")]

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from bench_loader import STATS, build_cube, one_core, windows_of, write_layouts  # noqa: E402
from loader_rows import pair_rows  # noqa: E402
from perf_table import table_row  # noqa: E402

from hephaestus.train.data import LoaderConfig, MinicubeDataset  # noqa: E402
from hephaestus.train.data.chunks import read_tiles  # noqa: E402
from hephaestus.train.data.place import _chunk, _scale_stored, _stored_args  # noqa: E402
from hephaestus.train.data.window import Window  # noqa: E402


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    size, epochs = (1000, 3) if args.quick else (1500, 12)
    one_core()
    from numba import njit

    @njit(cache=False)
    def decode_only(index, fd, data, blosc, fill, scratch, scratch_bytes):  # type: ignore[no-untyped-def]
        for i in range(index.shape[0]):
            for j in range(index.shape[1]):
                _chunk(index, i, j, fd, data, blosc, fill, scratch, scratch_bytes)

    with tempfile.TemporaryDirectory(prefix="bench_breakdown_") as tmp:
        from hephaestus.ingest.config import ChunkingConfig

        layout = ChunkingConfig().layout
        ds = build_cube(size)
        url = write_layouts(ds, Path(tmp))[layout][0]
        pairs = pair_rows(xr.open_zarr(url, consolidated=False), url)
        cfg = LoaderConfig(
            store_url=tmp, crop_size=512, series=False, max_offset=128, augment=False, undersample=False
        )
        dataset = MinicubeDataset(pairs, None, STATS, cfg)
        crops = windows_of(dataset, epochs)
        spec = dataset.input_spec
        jobs = []  # per crop: the stored-chunk arguments and scale of each non-DEM channel
        for epoch, i, r0, c0 in crops:
            dataset.epoch = epoch
            step = dataset.samples[i].steps[0]
            cube = dataset._cubes.get(step.cube_url)
            lead = (step.primary_index, step.secondary_index)
            per_crop = []
            for var in spec.channels:
                if var == "dem":
                    continue
                window = Window(lead, r0, r0 + 512, c0, c0 + 512)
                for _, tiles in read_tiles([(cube.reader(var), window)], cube.fetcher, undecoded=True):
                    a = _stored_args(tiles)
                    stored = (a[0].copy(), a[1], a[2], a[3], a[4], a[5].copy(), None)
                    per_crop.append((stored, tiles.r_in, tiles.c_in, spec.channel_scale(var, None)))
            jobs.append(per_crop)
        nan = np.float32(np.nan)
        channel = np.empty((512, 512), dtype=np.float32)

        def run(kind: str) -> None:
            for per_crop in jobs:
                image = np.empty((len(per_crop), 512, 512), dtype=np.float32) if kind == "fresh" else None
                for k, (stored, r_in, c_in, scale) in enumerate(per_crop):
                    index, fd, data, blosc, fill, scratch, _ = stored
                    as_bytes = scratch.reshape(-1).view(np.uint8)
                    if kind == "decode":
                        decode_only(index, fd, data, blosc, fill, scratch, as_bytes)
                        continue
                    out = channel if image is None else image[k]
                    band = np.empty((scratch.shape[0], 512), dtype=np.float32)  # one row of chunks
                    _scale_stored(
                        index, fd, data, blosc, fill, scratch, as_bytes, r_in, c_in, out, 512, 512,
                        scale.mean, scale.inv_std, nan, nan, band,
                    )  # fmt: skip

        def run_loader() -> None:
            for epoch, i, _, _ in crops:
                dataset.epoch = epoch
                dataset[i]

        steps = {
            "decode": lambda: run("decode"),
            "cached": lambda: run("cached"),
            "fresh": lambda: run("fresh"),
        }
        steps["loader"] = run_loader
        best = {name: float("inf") for name in steps}
        for fn in steps.values():
            fn()  # warm-up: compile, page cache
        for _ in range(3):
            for name, fn in steps.items():
                t = time.process_time()
                fn()
                best[name] = min(best[name], time.process_time() - t)
    ms = {name: best[name] / len(crops) * 1e3 for name in steps}
    result = {
        "benchmark": "loader_breakdown",
        "layout": layout,
        "frame": size,
        "crops": len(crops),
        "ms_per_crop": {k: round(v, 3) for k, v in ms.items()},
    }
    result["table"] = [
        table_row(
            f"loader per single 512 px crop ({layout}): decode / + normalise, streamed into a reused buffer / "
            "+ into a fresh crop / whole loader",
            f"{ms['decode']:.2f} / {ms['cached']:.2f} / {ms['fresh']:.2f} / {ms['loader']:.2f} ms",
        )
    ]
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
