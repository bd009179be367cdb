"""Honest references side by side, per core, augmentation off and on for every side.

One frame the size of the published sample (1070 x 1409) in a cube whose pair grid is as large as a
median real frame's (`quality_timeseries.json`: 415 pairs over ~128 primary x 126 secondary dates; the
slots no crop touches are left unwritten, as zarr leaves fill chunks), written in the published layout
(zarr v2, whole slices) and in ingest's default layout. Timed on the same crops:
  (a) authors' training path: their WebDataset export of pre-cut crops (tar shards of torch-saved
      crops, 128 a shard, as their `wds_write_ith_shard` writes them; written here) read by their
      `create_webdataset_loaders`, albumentations 1.3.0 as configured in their augmentation.json;
  (b) authors' dataset: their `InSarDataset.__getitem__` on zarr 2.18 (cube opened per sample, so its
      metadata caches are cold as in their runs);
  (c) our loader: `MinicubeDataset` on the default layout; augmented = batched augmentation on the CPU
      (`augment_on: device`, training's default), per sample in the loader (torchvision v2, `loader`),
      and fused into the read (`read`);
  raw bounds: decode only, and decode + write into a fresh crop (bench_loader.bench_raw).
(a) and (b) run in the authors' environment (tests/authors_env.py) from a checkout of their repository
($HEPHAESTUS_AUTHORS_SRC; skipped with the reason printed where either is missing). CPU seconds of
each process pinned to one core, one thread; best of interleaved rounds.

Usage: .venv/bin/python tests/benchmarks/bench_authors_paths.py [--quick]  (last line: JSON)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "train" / "data")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import xarray as xr  # noqa: E402
from bench_loader import (  # noqa: E402
    BATCH,
    STATS,
    bench_augmented,
    bench_loader,
    bench_raw,
    build_cube,
    one_core,
    windows_of,
)
from loader_rows import pair_rows, series_rows  # noqa: E402

from hephaestus.platform import schema  # noqa: E402
from hephaestus.platform.cube import cube_template  # noqa: E402
from hephaestus.train.data import LoaderConfig, MinicubeDataset  # noqa: E402

SAMPLE_FRAME = (1070, 1409)
"""Height and width of the published sample cube (106A_09090_000404; shared/reference/minicube-format.md)."""
MEDIAN_GRID = (128, 126)
"""Median primary and secondary dates per frame in the authors' quality_timeseries.json (415 pairs)."""
DEFAULT_SRC = Path(os.environ.get("HEPHAESTUS_AUTHORS_SRC", "/tmp/Hephaestus-minicubes"))
SHARD_SIZE = 128
"""Their configs.json max_samples_per_shard."""


def write_frame(tmp: Path, height: int, width: int, grid: tuple[int, int]) -> tuple[xr.Dataset, dict]:
    """The textured 2 x 3 pair cube of bench_loader, placed at the start of a `grid` of dates, written
    in the published layout and ingest's default one: {layout: (url, tile)} and the small dataset."""
    from hephaestus.ingest.config import ChunkingConfig
    from hephaestus.ingest.encoding import encoding, layout_tile

    small = build_cube(height, width=width)
    p, s = small[schema.PRIMARY].values, small[schema.SECONDARY].values
    big_p = np.concatenate([p, p[-1] + np.arange(1, grid[0] - p.size + 1) * np.timedelta64(12, "D")])
    big_s = np.concatenate([s, s[-1] + np.arange(1, grid[1] - s.size + 1) * np.timedelta64(12, "D")])
    frame_id = small.attrs["frame_id"]
    template = cube_template(frame_id, big_p, big_s, small[schema.LAT].values, small[schema.LON].values)
    template.attrs.update(small.attrs)
    region = {schema.PRIMARY: slice(0, p.size), schema.SECONDARY: slice(0, s.size)}
    region |= {schema.LAT: slice(None), schema.LON: slice(None)}
    piece = small.drop_vars(list(small.coords))
    layouts = {}
    for layout, fmt in (("published", 2), (ChunkingConfig().layout, 3)):
        chunking = ChunkingConfig(layout="slice" if fmt == 2 else layout)
        enc = encoding(fmt, grid[0], grid[1], height, width, chunking)
        enc = {k: v for k, v in enc.items() if k in template.variables}
        url = str(tmp / layout / f"{frame_id}.zarr")
        template.to_zarr(url, mode="w", zarr_format=fmt, encoding=enc, compute=False, consolidated=fmt == 2)
        # every populated slice stored, as in the published cubes (zarr 3 skips all-fill chunks, and
        # the v2 mask's null fill_value makes zarr 2.18 hand out uninitialised memory for them)
        piece.to_zarr(url, region=region, zarr_format=fmt, consolidated=False, write_empty_chunks=True)
        if fmt == 2:
            import zarr

            zarr.consolidate_metadata(url)
        layouts[layout] = (url, None if fmt == 2 else layout_tile(chunking))
    return small, layouts


def _day(t: np.datetime64) -> str:
    return str(np.datetime64(t, "D")).replace("-", "")


def export_webdataset(root: Path, small: xr.Dataset, dataset: MinicubeDataset, crops, k: int) -> None:  # type: ignore[no-untyped-def]
    """Pre-cut crops as the authors' `wds_write_ith_shard` stores them: tar shards (train_pos,
    train_neg, val, test) of `image.pth` (steps x 9 raw channels, float32), `labels.pth` (steps masks,
    int64) and `sample.pth` (the sample's annotation dict), torch.save'd."""
    channels = dataset.step_channels
    prim, sec = small[schema.PRIMARY].values, small[schema.SECONDARY].values
    members = []
    for n, (_, i, r0, c0) in enumerate(crops):
        steps = dataset.samples[i].steps
        parts, masks, annotation = [], [], []
        for step in steps:
            sl = {schema.PRIMARY: step.primary_index, schema.SECONDARY: step.secondary_index}
            for var in channels:
                full = small[var].values if var == "dem" else small[var][sl].values
                parts.append(full[r0 : r0 + k, c0 : c0 + k])
            m = small["deformation_mask"][sl].values[r0 : r0 + k, c0 : c0 + k]
            masks.append(m)
            label = ["Deformation"] if m.any() else ["Non_Deformation"]
            annotation.append(
                {
                    "primary_date": _day(prim[step.primary_index]),
                    "secondary_date": _day(sec[step.secondary_index]),
                    "label": label,
                }
            )
        sample = {"frame_id": small.attrs["frame_id"], "annotation": annotation, "label": [1] * len(steps)}
        obj = {
            "image.pth": torch.from_numpy(np.stack(parts).astype("float32")),
            "labels.pth": torch.from_numpy(np.stack(masks).astype("int64")),
            "sample.pth": sample,
        }
        for ext, value in obj.items():
            buf = io.BytesIO()
            torch.save(value, buf)
            members.append((f"sample{n:06d}.{ext}", buf.getvalue()))
    per = 3 * SHARD_SIZE
    for mode in ("train_pos", "train_neg", "val", "test"):
        (root / mode).mkdir(parents=True, exist_ok=True)
        for s in range(0, max(1, len(members)), per):
            with tarfile.open(root / mode / f"sample-{mode}-{s // per:06d}.tar", "w") as tar:
                for name, data in members[s : s + per]:
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))


def authors_samples(small: xr.Dataset, dataset: MinicubeDataset, crops) -> list[dict]:  # type: ignore[no-untyped-def]
    """The authors' dataset sample dicts (frame, annotations with dates and labels) of `crops`."""
    prim, sec = small[schema.PRIMARY].values, small[schema.SECONDARY].values
    out = []
    for _, i, _, _ in crops:
        steps = dataset.samples[i].steps
        out.append(
            {
                "frame_id": small.attrs["frame_id"],
                "annotation": [
                    {
                        "primary_date": _day(prim[st.primary_index]),
                        "secondary_date": _day(sec[st.secondary_index]),
                        "label": ["Deformation"],
                    }
                    for st in steps
                ],
            }
        )
    return out


def run_authors(spec_path: Path, src: Path) -> tuple[dict | None, str | None]:
    """The authors' harness in their environment: its figures, or why it did not run."""
    if not (src / "utilities" / "utils.py").exists():
        return None, f"no checkout of Orion-AI-Lab/Hephaestus-minicubes at {src} ($HEPHAESTUS_AUTHORS_SRC)"
    try:
        from authors_env import authors_bench_python

        python = authors_bench_python()
    except BaseException as exc:  # pytest.skip raises a BaseException subclass
        return None, f"authors' environment unavailable: {exc}"
    done = subprocess.run(
        [str(python), str(HERE / "authors_read_paths.py"), str(spec_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        return None, f"authors' harness failed: {done.stderr.strip()[-800:]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), None


def run(height: int, width: int, grid: tuple[int, int], epochs: int, k: int, rounds: int, src: Path) -> dict:
    one_core()
    kinds = ("single", "series")
    with tempfile.TemporaryDirectory(prefix="bench_authors_") as tmp_name:
        tmp = Path(tmp_name)
        small, layouts = write_frame(tmp, height, width, grid)
        default = [name for name in layouts if name != "published"][0]
        url, tile = layouts[default]
        pairs = pair_rows(small, url)
        jobs, spec_modes = {}, {}
        for kind in kinds:
            cfg = LoaderConfig(
                store_url=str(tmp),
                crop_size=k,
                series=kind == "series",
                max_offset=128,
                augment=False,
                undersample=False,
            )
            rows = series_rows(pairs) if kind == "series" else None
            dataset = MinicubeDataset(pairs, rows, STATS, cfg)
            crops = windows_of(dataset, epochs)
            raw, written, _ = bench_raw(url, tile, dataset, crops, k, (height, width))
            augmented = {
                where: MinicubeDataset(
                    pairs, rows, STATS, cfg.model_copy(update={"augment": True, "augment_on": where})
                )
                for where in ("device", "loader", "read")
            }
            steps = dataset.steps
            export_webdataset(tmp / "wds" / str(steps), small, dataset, crops, k)
            spec_modes[kind] = {"steps": steps, "samples": authors_samples(small, dataset, crops)}
            jobs[kind] = {
                "dataset": dataset,
                "crops": crops,
                "raw": raw,
                "written": written,
                "aug": augmented,
            }
        cube_sizes = {
            name: int(n) for name, n in xr.open_zarr(url, chunks=None, consolidated=False).sizes.items()
        }
        spec = {
            "src": str(src),
            "crop": k,
            "wds_root": str(tmp / "wds"),
            "zarr_path": str(Path(layouts["published"][0]).parent),
            "modes": spec_modes,
        }
        spec_path = tmp / "spec.json"
        spec_path.write_text(json.dumps(spec))
        best: dict[str, float] = {}
        authors_best: dict[str, list] = {}
        skipped = None
        versions = None

        def keep(key: str, secs: float) -> None:
            best[key] = min(best.get(key, float("inf")), secs)

        for _ in range(rounds):  # interleaved: every figure of a round runs under the same load
            for kind, job in jobs.items():
                keep(f"{kind}/loader", bench_loader(job["dataset"], job["crops"]))
                keep(f"{kind}/raw", job["raw"]())
                keep(f"{kind}/written", job["written"]())
                for where, ds in job["aug"].items():
                    keep(f"{kind}/augmented/{where}", bench_augmented(ds, job["crops"]))
            if skipped is None:
                found, skipped = run_authors(spec_path, src)
                if found:
                    versions = found.pop("versions")
                    for key, (secs, n) in found.items():
                        if key not in authors_best or secs / n < authors_best[key][0] / authors_best[key][1]:
                            authors_best[key] = [secs, n]
    modes: dict = {}
    for kind, job in jobs.items():
        n = len(job["crops"])
        ds = job["dataset"]
        row = {
            "loader_crops_per_s": n / best[f"{kind}/loader"],
            "augmented_crops_per_s": n / best[f"{kind}/augmented/device"],
            "augmented_in_loader_crops_per_s": n / best[f"{kind}/augmented/loader"],
            "augmented_fused_read_crops_per_s": n / best[f"{kind}/augmented/read"],
            "raw_decode_crops_per_s": n / best[f"{kind}/raw"],
            "raw_decode_write_crops_per_s": n / best[f"{kind}/written"],
            "augment_ms_per_crop": 1000 * (best[f"{kind}/augmented/device"] - best[f"{kind}/loader"]) / n,
            "augment_in_loader_ms_per_crop": 1000
            * (best[f"{kind}/augmented/loader"] - best[f"{kind}/loader"])
            / n,
            "frame": [height, width],
            "cube": cube_sizes,
            "steps": ds.steps,
            "channels": ds.in_channels,
            "crop": k,
            "crops": n,
            "batch": BATCH,
        }
        if authors_best:

            def rate(key: str, kind: str = kind) -> float:
                secs, count = authors_best[f"{kind}/{key}"]
                return count / secs

            row["authors_training_path_crops_per_s"] = rate("training/plain")
            row["authors_training_path_augmented_crops_per_s"] = rate("training/augmented")
            row["authors_dataset_crops_per_s"] = rate("dataset/plain")
            row["authors_dataset_augmented_crops_per_s"] = rate("dataset/augmented")
            row["albumentations_ms_per_crop"] = 1000 * (
                1 / row["authors_training_path_augmented_crops_per_s"]
                - 1 / row["authors_training_path_crops_per_s"]
            )
        else:
            row["authors_training_path_augmented_crops_per_s"] = None
        modes[kind] = row
    return {
        "frame": [height, width],
        "cube": cube_sizes,
        "default_layout": default,
        "rounds": rounds,
        "epochs": epochs,
        "modes": modes,
        "authors_versions": versions,
        "authors_skipped": skipped,
    }


def print_table(result: dict) -> None:
    cube = result["cube"]
    print(
        f"frame {result['frame'][0]} x {result['frame'][1]}, cube grid {cube[schema.PRIMARY]} x "
        f"{cube[schema.SECONDARY]} dates; crops/s per core (CPU time), best of {result['rounds']} rounds"
    )
    if result["authors_skipped"]:
        print(f"authors' sides skipped: {result['authors_skipped']}")
    names = [
        ("authors_training_path_crops_per_s", "(a) authors' training path (WebDataset)"),
        ("authors_training_path_augmented_crops_per_s", "(a) + their albumentations"),
        ("authors_dataset_crops_per_s", "(b) authors' dataset on zarr 2.18"),
        ("authors_dataset_augmented_crops_per_s", "(b) + their albumentations"),
        ("loader_crops_per_s", "(c) our loader"),
        ("augmented_crops_per_s", "(c) + batched augmentation (CPU)"),
        ("augmented_in_loader_crops_per_s", "(c) + torchvision v2 per sample"),
        ("augmented_fused_read_crops_per_s", "(c) + augmentation fused into the read"),
        ("raw_decode_crops_per_s", "raw bound: decode"),
        ("raw_decode_write_crops_per_s", "raw bound: decode + write"),
    ]
    print(f"{'':44s} {'single':>8s} {'series':>8s}")
    for key, label in names:
        cells = []
        for kind in ("single", "series"):
            v = result["modes"][kind].get(key)
            cells.append(f"{v:8.1f}" if isinstance(v, float) else f"{'-':>8s}")
        print(f"{label:44s} {' '.join(cells)}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small frame and grid, few crops (CI)")
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="checkout of the authors' repository")
    args = parser.parse_args()
    if args.quick:
        result = run(600, 700, (8, 8), 1, 512, 1, args.src)
    else:
        result = run(*SAMPLE_FRAME, MEDIAN_GRID, 4, 512, 2, args.src)
    print_table(result)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
