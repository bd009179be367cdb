"""The paper's training augmentation by each of our paths, on the same crops and the same draws, CPU per core.

Paths (the data specification's `augment_on`):
  loader:  per sample, torchvision v2 on CPU tensors (`augment.apply`);
  device:  batched in the training process (`batch_augment.augment_batch`, batches of `BATCH`), here on CPU;
  read:    per sample, the fused compiled warp right after the read (`fused_augment.apply`).
Crops: read by the loader (`MinicubeDataset`, augment off) from a factory cube written in ingest's default
layout, 512 px, `single` (9 channels) and `series` (4 pairs, 36 channels); the draws are `augment.draw` from
(seed, epoch, index) as training makes them. Rows:
  read:             the loader's read alone (ms per crop), so that loader crops/s with augmentation =
                    1000 / (read + augmentation);
  drawn:            ms per crop over `DRAWS` drawn parameter sets (the paper's pipeline as trained; the
                    crops repeat, the draws do not);
  step rows:        one step alone on every crop (blur k 5 sigma 1, resized crop of half the area,
                    h flip, rotation 33 degrees, resized crop + rotation), ms per crop;
  floor rows:       per 512 x 512 channel: a copy (memory), the fused blur (k 5) and the fused warp
                    (rotation), what bounds the fused path.
One core (pinned), one torch thread, CPU seconds of this process (process_time; the machine may be
shared), best of interleaved rounds. Usage: .venv/bin/python tests/benchmarks/bench_augment_paths.py
[--quick]. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "train" / "data")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import xarray as xr  # noqa: E402
from bench_loader import STATS, one_core  # noqa: E402
from loader_rows import pair_rows, series_rows  # noqa: E402

from hephaestus.train.data import AugmentConfig, LoaderConfig, MinicubeDataset, augment, fused_augment  # noqa: E402
from hephaestus.train.data.augment import AugmentParams, augment_rng, draw  # noqa: E402
from hephaestus.train.data.batch_augment import augment_batch  # noqa: E402

from factories import make_cube_dataset  # noqa: E402

warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification")
K = 512
BATCH = 8
"""Crops per batch of the batched path (bench_loader's)."""
SERIES = 4
DRAWS = 40
"""Draws of the `drawn` row (over the crops, cyclically): enough to hold each step near its probability."""
PATHS = ("loader", "device", "read")
STEPS = {
    "blur": AugmentParams((5, 1.0), None, False, False, None),
    "resized crop": AugmentParams(None, (64, 100, 362, 362), False, False, None),
    "hflip": AugmentParams(None, None, True, False, None),
    "rotation": AugmentParams(None, None, False, False, 33.0),
    "crop + rotation": AugmentParams(None, (64, 100, 362, 362), False, False, 33.0),
}


def crops_of(kind: str, n: int, tmp: Path) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], float]:
    """`n` crops as the loader reads them (image, mask), and the read's CPU ms per crop."""
    from hephaestus.ingest.config import ChunkingConfig
    from hephaestus.ingest.encoding import encoding

    url = str(tmp / "cube.zarr")
    if not Path(url).exists():
        ds = make_cube_dataset(n_primary=2, n_secondary=SERIES, height=1000, width=1000, positive_every=2)
        enc = encoding(3, 2, SERIES, 1000, 1000, ChunkingConfig())
        ds.to_zarr(
            url,
            mode="w",
            zarr_format=3,
            encoding={k: v for k, v in enc.items() if k in ds},
            consolidated=False,
        )
    pairs = pair_rows(xr.open_zarr(url, consolidated=False), url)
    cfg = LoaderConfig(
        store_url=str(tmp), crop_size=K, series=kind == "series", series_length=SERIES if kind == "series" else None,
        max_offset=128, augment=False, undersample=False,
    )  # fmt: skip
    dataset = MinicubeDataset(pairs, series_rows(pairs, SERIES) if kind == "series" else None, STATS, cfg)
    index = [(e, i) for e in range(n) for i in range(len(dataset))][:n]
    out, best = [], math.inf
    for _ in range(2):  # the first pass warms the page cache and opens the stores: the best is kept
        out = []
        t = time.process_time()
        for e, i in index:
            dataset.epoch = e
            item = dataset[i]
            out.append((item["image"], item["mask"]))
        best = min(best, time.process_time() - t)
    return out, 1000 * best / len(index)


def ms_per_crop(
    path: str, crops: Sequence[tuple[torch.Tensor, torch.Tensor]], params: Sequence[AugmentParams]
) -> float:
    """CPU ms per crop of augmenting crop i % len(crops) with params[i], on fresh copies (as each path gets
    them). The batched path gets its batches already collated: the DataLoader collates for every path."""
    work = [(crops[i % len(crops)][0].clone(), crops[i % len(crops)][1].clone()) for i in range(len(params))]
    run: Callable[[], object]
    if path == "device":
        batches = [
            (
                torch.stack([x for x, _ in work[s : s + BATCH]]),
                torch.stack([m for _, m in work[s : s + BATCH]]),
            )
            for s in range(0, len(work), BATCH)
        ]
        del work

        def run() -> None:
            for b, (image, mask) in enumerate(batches):
                augment_batch(image, mask, params[b * BATCH : (b + 1) * BATCH])

    else:
        fn = augment.apply if path == "loader" else fused_augment.apply

        def run() -> None:
            for (x, m), p in zip(work, params, strict=True):
                fn(x, m, p)

    t = time.process_time()
    run()
    return 1000 * (time.process_time() - t) / len(params)


def floors(channels: int) -> dict[str, float]:
    """ms per 512 x 512 channel of a copy, the fused blur (k 5) and the fused warp (rotation)."""
    src = np.random.default_rng(0).standard_normal((channels, K, K), dtype=np.float32)
    line = np.exp(-0.5 * (np.arange(5) - 2.0) ** 2).astype(np.float32)
    line /= line.sum()
    r = math.radians(33.0)
    fns = {
        "copy": lambda: src.copy(),
        "blur k 5": lambda: fused_augment._blur(src, line, 0, K, 0, K),
        "warp (rotation)": lambda: fused_augment._warp(
            src, K, K, math.cos(r), math.sin(r), True, False, False, 0, 0, K, K
        ),
    }
    out = {}
    for name, fn in fns.items():
        fn()
        t = time.process_time()
        for _ in range(3):
            fn()
        out[name] = 1000 * (time.process_time() - t) / 3 / channels
    return out


def run(n: int, rounds: int) -> dict:
    one_core()
    warm = AugmentParams((3, 0.5), (4, 4, 40, 40), True, True, 10.0)  # compiles (or loads) the kernels
    fused_augment.apply(torch.zeros(1, 64, 64), torch.zeros(64, 64, dtype=torch.int64), warm)
    result: dict = {"crop": K, "batch": BATCH, "series_pairs": SERIES, "crops": n, "kinds": {}}
    with tempfile.TemporaryDirectory(prefix="bench_augment_") as tmp_name:
        for kind in ("single", "series"):
            crops, read_ms = crops_of(kind, n, Path(tmp_name))
            drawn = [draw(AugmentConfig(), K, augment_rng(0, 0, i)) for i in range(DRAWS)]
            for path in PATHS:  # warm-up (torchvision's kernels, first-call costs)
                ms_per_crop(path, crops[:BATCH], drawn[:BATCH])
            best: dict[tuple[str, str], float] = {}
            for _ in range(rounds):  # interleaved, each keeping its best round
                for path in PATHS:
                    tries = {"drawn": drawn} | {s: [p] * BATCH for s, p in STEPS.items()}
                    for row, params in tries.items():
                        m = ms_per_crop(path, crops, params)
                        best[(row, path)] = min(best.get((row, path), math.inf), m)
            rows = {row: {path: round(best[(row, path)], 2) for path in PATHS} for row in ["drawn", *STEPS]}
            crops_per_s = {path: round(1000 / (read_ms + best[("drawn", path)]), 1) for path in PATHS}
            result["kinds"][kind] = {
                "channels": int(crops[0][0].shape[0]),
                "drawn_steps": {
                    "blur": sum(p.blur is not None for p in drawn),
                    "resized_crop": sum(p.crop is not None for p in drawn),
                    "rotation": sum(p.angle is not None for p in drawn),
                    "of": len(drawn),
                },
                "read_ms": round(read_ms, 2),
                "read_crops_per_s": round(1000 / read_ms, 1),
                "ms_per_crop": rows,
                "crops_per_s_with_augmentation": crops_per_s,
                "floor_ms_per_channel": {
                    k: round(v, 3) for k, v in floors(int(crops[0][0].shape[0])).items()
                },
            }
    return result


def print_table(result: dict) -> None:
    for kind, r in result["kinds"].items():
        print(
            f"{kind} ({r['channels']} channels), read {r['read_ms']:.1f} ms/crop ({r['read_crops_per_s']} crops/s)"
        )
        print(f"  {'ms CPU per crop':18s}" + "".join(f"{p:>10s}" for p in PATHS))
        for row, vals in r["ms_per_crop"].items():
            print(f"  {row:18s}" + "".join(f"{vals[p]:10.1f}" for p in PATHS))
        cps = r["crops_per_s_with_augmentation"]
        print(f"  {'crops/s read+aug':18s}" + "".join(f"{cps[p]:10.1f}" for p in PATHS))
        print(
            "  floor ms per channel: "
            + ", ".join(f"{k} {v:.2f}" for k, v in r["floor_ms_per_channel"].items())
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round (the default keeps the best of two)")
    args = parser.parse_args()
    result = run(*((8, 1) if args.quick else (8, 2)))
    print_table(result)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
