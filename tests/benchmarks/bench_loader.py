"""Crop loader throughput vs the authors' approach and vs the raw chunk-decode limit, on one core.

One cube (one frame, a few pairs), written in both layouts:
  published: zarr v2, one whole 2-D slice per chunk (the authors' layout, zarr's default blosc lz4),
  platform:  zarr v3, (1, 1, 256, 256) chunks, blosc lz4 + shuffle.
For single-pair and 3-step series samples (9 channels per step, with atmosphere) it times, on the
same crop windows:
  (a) loader:    MinicubeDataset.__getitem__ (fast chunk-window reads, z-score, mask union);
  (b) reference: xarray `.sel(primary_date=, secondary_date=)` of whole slices per sample, then
                 crop and z-score with numpy (what the authors' dataset does);
  (c) raw limit: read + numcodecs-decode exactly the chunk files the crops touch (every channel
                 and mask chunk the loader needs), in a tight loop, nothing else.
The process is pinned to one CPU and blosc / torch use one thread. Page cache is warm for all
three (each runs a warm-up pass first). Ratios use crops per second; MB/s counts the float32
crop tensors delivered (C x k x k x 4 bytes), and for (c) also the decoded chunk bytes.

Usage: .venv/bin/python tests/benchmarks/bench_loader.py [--quick]
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "loader")]

import numcodecs  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import xarray as xr  # noqa: E402
from loader_rows import pair_rows, series_rows, write_cube  # noqa: E402
from scipy.ndimage import zoom  # noqa: E402

from hephaestus.platform import schema  # noqa: E402
from hephaestus.train.data import LoaderConfig, MinicubeDataset  # noqa: E402

from factories import make_cube_dataset  # noqa: E402

STATS = dict(schema.AUTHORS_STATISTICS)
TILE = 256


def one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    torch.set_num_threads(1)
    numcodecs.blosc.set_nthreads(1)
    import zarr

    zarr.config.set({"threading.max_workers": 1})


def build_cube(size: int, seed: int = 0) -> xr.Dataset:
    """Factory cube with realistic texture: smooth ERA5 and DEM, noisy phase and coherence."""
    ds = make_cube_dataset(n_primary=2, n_secondary=3, height=size, width=size, seed=seed)
    rng = np.random.default_rng(seed)
    p, s = ds.sizes[schema.PRIMARY], ds.sizes[schema.SECONDARY]

    def smooth(mean: float, std: float) -> np.ndarray:
        coarse = rng.normal(mean, std, (8, 8))
        return zoom(coarse, size / 8, order=1)[:size, :size].astype("float32")

    for which in ("primary", "secondary"):
        for f, (mean, std) in zip(schema.ERA5_FIELDS, [(20, 5), (90000, 500), (2.4e6, 1e4)], strict=True):
            var = ds[schema.era5_variable(which, f)].values
            for i in range(p):
                for j in range(s):
                    var[i, j] = smooth(mean, std)
    ds["dem"].values[:] = smooth(1200, 300) + rng.normal(0, 5, (size, size)).astype("float32")
    return ds


def windows_of(dataset: MinicubeDataset, epochs: int) -> list[tuple[int, int, int, int]]:
    """(epoch, index, r0, c0) for every crop, as the loader places them."""
    out = []
    for e in range(epochs):
        dataset.set_epoch(e)
        for i in range(len(dataset)):
            r0, c0, _, _ = dataset.window(i)
            out.append((e, i, r0, c0))
    return out


def time_loop(fn, items) -> float:  # type: ignore[no-untyped-def]
    for it in items[: max(1, len(items) // 4)]:
        fn(it)  # warm-up: page cache, opened stores
    t = time.perf_counter()
    for it in items:
        fn(it)
    return time.perf_counter() - t


def bench_loader(dataset: MinicubeDataset, crops) -> float:  # type: ignore[no-untyped-def]
    def one(c):  # type: ignore[no-untyped-def]
        dataset.epoch = c[0]
        return dataset[c[1]]

    return time_loop(one, crops)


def bench_reference(url: str, dataset: MinicubeDataset, crops, k: int) -> float:  # type: ignore[no-untyped-def]
    cube = xr.open_zarr(url, consolidated=None, chunks=None)
    prim, sec = cube[schema.PRIMARY].values, cube[schema.SECONDARY].values
    channels = dataset.step_channels

    def one(c):  # type: ignore[no-untyped-def]
        _, i, r0, c0 = c
        parts, mask = [], np.zeros((k, k), bool)
        for step in dataset.samples[i].steps:
            sample = cube.sel(primary_date=prim[step.primary_index], secondary_date=sec[step.secondary_index])
            for var in channels:
                full = sample[var].values  # whole slice, as the authors' dataset reads it
                mean, std = STATS[schema.statistics_key(var)]
                crop = (full[r0 : r0 + k, c0 : c0 + k].astype("float32") - mean) / std
                parts.append(np.nan_to_num(crop, nan=0.0))
            mask |= sample["deformation_mask"].values[r0 : r0 + k, c0 : c0 + k] != 0
        return torch.from_numpy(np.stack(parts)), torch.from_numpy(mask.astype(np.int64))

    return time_loop(one, crops)


def chunk_files(
    root: Path, layout: str, var: str, p: int, s: int, r0: int, c0: int, k: int, tile: int
) -> list[Path]:
    """Chunk files of `var` a crop touches, from the layouts' documented key schemes."""
    if layout == "published":
        return [root / var / ("0.0" if var == "dem" else f"{p}.{s}.0.0")]
    rows = range(r0 // tile, (r0 + k - 1) // tile + 1)
    cols = range(c0 // tile, (c0 + k - 1) // tile + 1)
    lead = [] if var == "dem" else [str(p), str(s)]
    return [root / var / "c" / "/".join([*lead, str(r), str(c)]) for r in rows for c in cols]


def bench_raw(url: str, layout: str, dataset: MinicubeDataset, crops, k: int, tile: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    root = Path(url)
    codec = numcodecs.Blosc()
    channels = dataset.step_channels
    plans = []
    for _, i, r0, c0 in crops:
        files: list[Path] = []
        for t, step in enumerate(dataset.samples[i].steps):
            for var in (*channels, "deformation_mask"):
                if var == "dem" and t > 0:
                    continue
                found = chunk_files(
                    root, layout, var, step.primary_index, step.secondary_index, r0, c0, k, tile
                )
                files += [f for f in found if f.exists()]  # all-fill chunks are never written
        plans.append(files)

    def one(files):  # type: ignore[no-untyped-def]
        for f in files:
            codec.decode(f.read_bytes())

    seconds = time_loop(one, plans)
    decoded = sum(len(codec.decode(f.read_bytes())) for files in plans for f in files)
    return seconds, decoded


def run(size: int, epochs: int, k: int) -> dict:
    one_core()
    tmp = Path(tempfile.mkdtemp(prefix="bench_loader_"))
    ds = build_cube(size)
    urls = {
        layout: write_cube(ds, tmp / f"cube_{layout}.zarr", layout, TILE)
        for layout in ("published", "platform")
    }
    del ds
    result: dict = {"frame": [size, size], "crop": k, "tile": TILE, "epochs": epochs, "layouts": {}}
    for layout, url in urls.items():
        pairs = pair_rows(xr.open_zarr(url, consolidated=None), url)
        per_kind = {}
        for kind in ("single", "series"):
            cfg = LoaderConfig(store_url=str(tmp), crop_size=k, series=kind == "series", max_offset=128)
            dataset = MinicubeDataset(pairs, series_rows(pairs) if kind == "series" else None, STATS, cfg)
            crops = windows_of(dataset, epochs)
            n = len(crops)
            crop_mb = dataset.in_channels * k * k * 4 / 1e6
            a = bench_loader(dataset, crops)
            b = bench_reference(url, dataset, crops, k)
            c, decoded = bench_raw(url, layout, dataset, crops, k, TILE)
            per_kind[kind] = {
                "crops": n,
                "loader_crops_per_s": n / a,
                "loader_MB_per_s": n * crop_mb / a,
                "reference_crops_per_s": n / b,
                "reference_MB_per_s": n * crop_mb / b,
                "raw_limit_crops_per_s": n / c,
                "raw_limit_MB_per_s": n * crop_mb / c,
                "raw_limit_decoded_MB_per_s": decoded / 1e6 / c,
                "ratio_vs_reference": b / a,
                "ratio_vs_limit": c / a,
            }
            print(
                f"{layout:9s} {kind:6s}: loader {n / a:7.1f} crops/s ({n * crop_mb / a:7.1f} MB/s) | "
                f"reference {n / b:6.1f} crops/s | raw limit {n / c:7.1f} crops/s "
                f"({decoded / 1e6 / c:7.1f} MB/s decoded) | a/b {b / a:5.2f}  a/c {c / a:4.2f}",
                flush=True,
            )
        result["layouts"][layout] = per_kind
    # Headline: the platform layout vs the authors' approach on their layout and on the same cube.
    plat, pub = result["layouts"]["platform"], result["layouts"]["published"]
    for kind in ("single", "series"):
        plat[kind]["ratio_vs_reference_on_published"] = (
            plat[kind]["loader_crops_per_s"] / pub[kind]["reference_crops_per_s"]
        )
    result["ratio_vs_reference"] = min(plat[k_]["ratio_vs_reference"] for k_ in ("single", "series"))
    result["ratio_vs_reference_on_published"] = min(
        plat[k_]["ratio_vs_reference_on_published"] for k_ in ("single", "series")
    )
    result["ratio_vs_limit"] = min(plat[k_]["ratio_vs_limit"] for k_ in ("single", "series"))
    result["targets"] = {"ratio_vs_reference": 10, "ratio_vs_limit": 0.6}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller frame and fewer crops")
    args = parser.parse_args()
    size, epochs = (1024, 3) if args.quick else (1536, 8)
    result = run(size, epochs, 512)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
