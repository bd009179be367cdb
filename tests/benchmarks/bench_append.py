"""Cubes that grow: plain zarr appends (what ingest does) against Icechunk, on the same cube.

One frame of N acquisition dates (each date paired with the next three, the LiCSAR pattern) in the
platform layout (ingest's default encoding: zarr v3, 256 x 256 blosc-lz4 chunks in one shard per
pair). The same stored objects go into (B) a plain zarr directory, committed as ingest commits it
(consolidated root metadata), and (A) an Icechunk repository (local filesystem storage), committed
as one snapshot. Then, for each:

  crop reads: the loader's own reader (`read_input` on an `OpenCube`: the fast chunk reader on
              the local directory; on Icechunk the reader's store path, `Fetcher` over the
              session's zarr store) on the same random 512 x 512 single-pair crops, in interleaved
              rounds, best round kept, the process pinned to one core (CPU seconds of every thread:
              the machine is shared; wall seconds reported beside). Goal: Icechunk within 10 % of
              today's layout to be an option at all.
  append:     one new date (three new pairs) appended, several times, the engines interleaved:
              seconds (wall, best of the appends) and bytes written (new and rewritten objects,
              median), beside a full rebuild's bytes (the whole cube).
  reader:     a thread polls the cube (open the committed view, check every valid pair has its
              pixels and every variable the same date sizes) while several dates are appended one by
              one; it counts views equal to a committed version and partial ones (goal: 0 partial).
              For plain zarr it also polls as a reader that bypasses the consolidated metadata
              (per-array metadata, as zarr v2 tools without consolidation do), to show what the
              commit protects against.

Usage: .venv/bin/python tests/benchmarks/bench_append.py [--quick]
The last stdout line is one JSON object (with "table" rows for the README performance table).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

import numpy as np  # noqa: E402
import zarr  # noqa: E402
from zarr.buffer import default_buffer_prototype  # noqa: E402
from zarr.core.sync import sync  # noqa: E402

from hephaestus.ingest import append  # noqa: E402
from hephaestus.ingest.config import ChunkingConfig  # noqa: E402
from hephaestus.ingest.encoding import encoding, fill_value  # noqa: E402
from hephaestus.ingest.plan import empty_scalars  # noqa: E402
from hephaestus.platform import cube_text, schema  # noqa: E402
from hephaestus.platform.cube import cube_template, grid_coords, version_token  # noqa: E402
from hephaestus.platform.dataspec import DataSpec  # noqa: E402
from hephaestus.platform.inputs import InputSpec  # noqa: E402
from hephaestus.train.data.cubes import OpenCube  # noqa: E402
from hephaestus.train.data.read import read_input  # noqa: E402
from hephaestus.train.data.samples import Step  # noqa: E402

FRAME = "124D_04854_171313"
CROP = 512
SPACING = 12  # days between acquisitions


def dates(n: int) -> np.ndarray:
    return np.datetime64("2021-01-03", "D") + SPACING * np.arange(n)


def pairs_of(n_dates: int) -> list[tuple[int, int]]:
    """(primary date index, secondary date index): each date with the next three."""
    return [(a, b) for a in range(n_dates) for b in range(a + 1, min(a + 4, n_dates))]


def axes(n_dates: int) -> tuple[np.ndarray, np.ndarray]:
    d = dates(n_dates)
    pr = sorted({a for a, _ in pairs_of(n_dates)})
    se = sorted({b for _, b in pairs_of(n_dates)})
    return d[pr], d[se]


def pair_data(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """One pair's rasters with realistic texture: noisy phase and coherence, smooth ERA5, sparse masks."""
    out = {
        "insar_difference": rng.uniform(-np.pi, np.pi, (size, size)).astype("float32"),
        "insar_coherence": rng.integers(0, 256, (size, size)).astype("float32"),
    }
    yy, xx = np.mgrid[0:size, 0:size] / size
    for which in ("primary", "secondary"):
        for f, (mean, std) in zip(schema.ERA5_FIELDS, [(20, 5), (90000, 500), (2.4e6, 1e4)], strict=True):
            a, b = rng.normal(0, std, 2)
            out[schema.era5_variable(which, f)] = (mean + a * yy + b * xx).astype("float32")
    for name in ("deformation_mask", "activity_type_mask", "intensity_level_mask"):
        out[name] = np.full((size, size), fill_value(name), dtype="int32")
    out["deformation_mask"][size // 3 : size // 2, size // 3 : size // 2] = 1
    return out


def cell(primary: np.ndarray, secondary: np.ndarray, a: int, b: int) -> tuple[int, int]:
    d = dates(b + 1)
    return int(np.searchsorted(primary, d[a])), int(np.searchsorted(secondary, d[b]))


def scalars_for(primary: np.ndarray, secondary: np.ndarray, n_dates: int) -> dict[str, np.ndarray]:
    out = empty_scalars(primary.size, secondary.size)
    for k, (a, b) in enumerate(pairs_of(n_dates)):
        i, j = cell(primary, secondary, a, b)
        out["valid_date_pair"][i, j] = True
        out["unique_id"][i, j] = str(1000 + k)
        out["phase"][i, j] = "Rest"
        out["caption"][i, j] = f"pair {k}"
    return out


# -- plain zarr (B): what ingest writes ---------------------------------------------------------------
def build_plain(url: str, n_dates: int, size: int, rng: np.random.Generator) -> None:
    primary, secondary = axes(n_dates)
    lat, lon = grid_coords(19.5, -155.6, size, size)
    template = cube_template(FRAME, primary, secondary, lat, lon, lazy=True)
    template = cube_text.encode_dataset(template).assign_attrs(
        {"hmc_ingest_fingerprint": f"n{n_dates}", "hmc_cube_version": version_token(f"n{n_dates}")}
    )
    enc = encoding(3, primary.size, secondary.size, size, size, ChunkingConfig())
    template.to_zarr(url, mode="w", compute=False, zarr_format=3, encoding=enc, consolidated=False)
    group = zarr.open_group(url, mode="r+", use_consolidated=False)
    group["dem"][:] = (1000 + 10 * rng.standard_normal((size, size))).astype("float32")
    for a, b in pairs_of(n_dates):
        i, j = cell(primary, secondary, a, b)
        for name, values in pair_data(rng, size).items():
            group[name][i, j] = values
    stored = cube_text.encode(scalars_for(primary, secondary, n_dates))
    values = dict(scalars_for(primary, secondary, n_dates))
    for name in cube_text.TEXT_VARIABLES:
        values.pop(name)
    values.update({k: np.asarray(v.values) for k, v in stored.items()})
    blob = values.pop(cube_text.CAPTION_BYTES)
    group[cube_text.CAPTION_BYTES].resize(blob.shape)
    group[cube_text.CAPTION_BYTES][:] = blob
    for name, v in values.items():
        group[name][...] = v
    append.consolidate(url, 3)


def append_plain(url: str, n_dates: int, size: int, rng: np.random.Generator) -> None:
    """Grow the cube from n_dates to n_dates + 1 the way ingest does (ingest/append.py)."""
    old = append.published(url)
    assert old is not None
    primary, secondary = axes(n_dates + 1)
    append.grow(url, 3, old, primary, secondary)
    group = zarr.open_group(url, mode="r+", use_consolidated=False)
    for a, b in pairs_of(n_dates + 1):
        if b == n_dates:
            i, j = cell(primary, secondary, a, b)
            for name, values in pair_data(rng, size).items():
                group[name][i, j] = values
    append.write_new_pair_scalars(url, 3, old, scalars_for(primary, secondary, n_dates + 1))
    append.commit(url, 3, old, f"n{n_dates + 1}")


# -- Icechunk (A) ---------------------------------------------------------------------------------------
def build_icechunk(path: str, plain_url: str):  # type: ignore[no-untyped-def]
    """An Icechunk repository holding exactly the plain cube's objects, committed as one snapshot."""
    import icechunk

    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(path))
    session = repo.writable_session("main")
    proto = default_buffer_prototype()
    root = Path(plain_url)
    files = [p for p in root.rglob("*") if p.is_file()]
    # nodes before their chunks: the root group, then every array's metadata, then the chunks
    files.sort(key=lambda p: (p.name != "zarr.json", len(p.relative_to(root).parts), str(p)))
    for p in files:
        if p.is_file():
            key = p.relative_to(root).as_posix()
            data = p.read_bytes()
            if key == "zarr.json":  # Icechunk keeps its own consistent view: no consolidated block
                meta = json.loads(data)
                meta.pop("consolidated_metadata", None)
                data = json.dumps(meta).encode()
            sync(session.store.set(key, proto.buffer.from_bytes(data)))
    session.commit("initial cube")
    return repo


def append_icechunk(repo, n_dates: int, size: int, rng: np.random.Generator) -> str:  # type: ignore[no-untyped-def]
    """Grow the repository's cube by one date in one transaction (one commit)."""
    session = repo.writable_session("main")
    group = zarr.open_group(session.store, mode="r+", zarr_format=3)
    primary, secondary = axes(n_dates + 1)
    sizes = {schema.PRIMARY: primary.size, schema.SECONDARY: secondary.size}
    for _, array in group.arrays():
        dims = tuple(array.metadata.dimension_names or ())
        shape = tuple(sizes.get(d, s) for d, s in zip(dims, array.shape, strict=True))
        if shape != tuple(array.shape):
            array.resize(shape)
    old_p, old_s = axes(n_dates)
    for dim, new, old in ((schema.PRIMARY, primary, old_p), (schema.SECONDARY, secondary, old_s)):
        if new.size > old.size:
            group[dim][old.size :] = append.encode_dates(group[dim], new[old.size :])
    for a, b in pairs_of(n_dates + 1):
        if b == n_dates:
            i, j = cell(primary, secondary, a, b)
            for name, values in pair_data(rng, size).items():
                group[name][i, j] = values
            group["valid_date_pair"][i, j] = True
    return session.commit(f"date {n_dates + 1}")


# -- measurements ---------------------------------------------------------------------------------------
def dir_state(root: str) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            out[os.path.join(dirpath, f)] = (st.st_size, st.st_mtime_ns)
    return out


def written_bytes(before: dict, after: dict) -> int:
    return sum(size for path, (size, mtime) in after.items() if before.get(path) != (size, mtime))


def crops(primary: np.ndarray, secondary: np.ndarray, n_dates: int, size: int, n: int) -> list:
    rng = np.random.default_rng(7)
    cells = [cell(primary, secondary, a, b) for a, b in pairs_of(n_dates)]
    out = []
    for _ in range(n):
        i, j = cells[int(rng.integers(len(cells)))]
        r0, c0 = (int(x) for x in rng.integers(0, size - CROP + 1, 2))
        out.append((i, j, r0, c0))
    return out


def time_reads(cube: OpenCube, spec: InputSpec, windows: list, url: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of reading every window, after a warm-up pass. CPU seconds count
    every thread of the process (Icechunk's runtime included); wall seconds suffer from the load."""

    def one(w) -> None:  # type: ignore[no-untyped-def]
        i, j, r0, c0 = w
        read_input(cube, [Step(url, i, j, None)], spec, r0, c0, CROP, CROP)

    for w in windows[: max(1, len(windows) // 4)]:
        one(w)
    t, w0 = time.process_time(), time.perf_counter()
    for w in windows:
        one(w)
    return time.process_time() - t, time.perf_counter() - w0


class Poller:
    """A reader thread that opens the committed view over and over and classifies what it sees."""

    def __init__(self, open_view) -> None:  # type: ignore[no-untyped-def]
        self.open_view = open_view
        self.views: list[object] = []
        self.partial: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.views.append(check_view(self.open_view()))
            except Exception as exc:  # noqa: BLE001 - a failed or inconsistent read is a partial view
                self.partial.append(f"{type(exc).__name__}: {exc}"[:200])

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


def check_view(group: zarr.Group) -> tuple[int, int, int]:
    """(n primary, n secondary, valid pairs) of a view; raises on anything partial."""
    n_p, n_s = group[schema.PRIMARY].shape[0], group[schema.SECONDARY].shape[0]
    for name in ("insar_difference", "deformation_mask", "valid_date_pair"):
        if tuple(group[name].shape[:2]) != (n_p, n_s):
            raise ValueError(f"{name} is {group[name].shape[:2]}, dates are {(n_p, n_s)}")
    valid = np.asarray(group["valid_date_pair"][...])
    phase = group["insar_difference"]
    for i, j in zip(*np.nonzero(valid), strict=True):
        if not np.isfinite(np.asarray(phase[i, j, :8, :8])).any():
            raise ValueError(f"pair ({i}, {j}) valid without pixels")
    return n_p, n_s, int(valid.sum())


def expected_views(n_dates: int, k: int) -> set[tuple[int, int, int]]:
    out = set()
    for n in range(n_dates, n_dates + k + 1):
        p, s = axes(n)
        out.add((p.size, s.size, len(pairs_of(n))))
    return out


def one_core() -> None:
    """Pin the process to one CPU (Icechunk's runtime threads included) and keep codecs single-threaded:
    CPU seconds then compare the total work of each read path, whatever threads it uses."""
    import numcodecs

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    numcodecs.blosc.set_nthreads(1)
    zarr.config.set({"threading.max_workers": 1})


def run(n_dates: int, size: int, n_crops: int, rounds: int, appends: int) -> dict:
    one_core()
    import icechunk

    tmp = Path(tempfile.mkdtemp(prefix="bench_append_"))
    try:
        rng = np.random.default_rng(0)
        plain = str(tmp / "plain.zarr")
        t = time.perf_counter()
        build_plain(plain, n_dates, size, rng)
        build_s = time.perf_counter() - t
        repo = build_icechunk(str(tmp / "icechunk"), plain)
        primary, secondary = axes(n_dates)
        spec = InputSpec.create(DataSpec(crop_size=CROP, statistics="authors"))
        windows = crops(primary, secondary, n_dates, size, n_crops)
        cubes = {
            "plain": OpenCube(plain, zarr.storage.LocalStore(plain, read_only=True)),
            # the same directory through the reader's generic store path (what Icechunk must use)
            "plain_store_path": OpenCube(plain, zarr.storage.FsspecStore.from_url(plain, read_only=True)),
            "icechunk": OpenCube("icechunk", repo.readonly_session(branch="main").store),
        }
        cpu = dict.fromkeys(cubes, float("inf"))
        wall = dict.fromkeys(cubes, float("inf"))
        for _ in range(rounds):
            for name, cube in cubes.items():
                c, w = time_reads(cube, spec, windows, name)
                cpu[name], wall[name] = min(cpu[name], c), min(wall[name], w)
        read = {k: n_crops / v for k, v in cpu.items()}
        read_wall = {k: n_crops / v for k, v in wall.items()}
        cube_bytes = sum(s for s, _ in dir_state(plain).values())

        # append cost: one new date (three new pairs) at a time, the engines interleaved, `appends` times
        plain_times, ice_times, plain_sizes, ice_sizes = [], [], [], []
        ice_root = str(tmp / "icechunk")
        for k in range(appends):
            b0 = dir_state(plain)
            t = time.perf_counter()
            append_plain(plain, n_dates + k, size, np.random.default_rng(1 + k))
            plain_times.append(time.perf_counter() - t)
            plain_sizes.append(written_bytes(b0, dir_state(plain)))
            b0 = dir_state(ice_root)
            t = time.perf_counter()
            append_icechunk(repo, n_dates + k, size, np.random.default_rng(1 + k))
            ice_times.append(time.perf_counter() - t)
            ice_sizes.append(written_bytes(b0, dir_state(ice_root)))
        plain_s, ice_s = min(plain_times), min(ice_times)
        plain_bytes, ice_bytes = int(np.median(plain_sizes)), int(np.median(ice_sizes))

        # concurrent readers during `appends` more appended dates
        start = n_dates + appends

        def plain_view() -> zarr.Group:
            return zarr.open_group(zarr.storage.LocalStore(plain, read_only=True), mode="r")

        def naive_view() -> zarr.Group:
            store = zarr.storage.LocalStore(plain, read_only=True)
            return zarr.open_group(store, mode="r", use_consolidated=False)

        def ice_view() -> zarr.Group:
            return zarr.open_group(repo.readonly_session(branch="main").store, mode="r", zarr_format=3)

        with Poller(plain_view) as p_plain, Poller(naive_view) as p_naive:
            for k in range(appends):
                append_plain(plain, start + k, size, np.random.default_rng(10 + k))
        with Poller(ice_view) as p_ice:
            for k in range(appends):
                append_icechunk(repo, start + k, size, np.random.default_rng(10 + k))
        allowed = expected_views(start, appends)

        def summary(p: Poller) -> dict:
            odd = [v for v in p.views if v not in allowed]
            return {
                "views": len(p.views),
                "versions_seen": len(set(p.views)),
                "partial": len(p.partial) + len(odd),
                "example": (p.partial or [str(v) for v in odd] or [None])[0],
            }

        readers = {"plain": summary(p_plain), "plain_per_array": summary(p_naive), "icechunk": summary(p_ice)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # CPU seconds on one pinned core: wall seconds swing with the load of a shared machine
    ratio = read["icechunk"] / read["plain"]
    result = {
        "frame": [size, size],
        "dates": n_dates,
        "pairs": len(pairs_of(n_dates)),
        "crop": CROP,
        "crops": n_crops,
        "rounds": rounds,
        "icechunk_version": icechunk.__version__,
        "build_seconds": build_s,
        "cube_bytes": cube_bytes,
        "read_crops_per_s": read,
        "read_crops_per_s_wall": read_wall,
        "icechunk_read_ratio": ratio,
        "append_seconds": {"plain": plain_s, "icechunk": ice_s},
        "append_seconds_all": {"plain": plain_times, "icechunk": ice_times},
        "append_bytes": {"plain": plain_bytes, "icechunk": ice_bytes},
        "readers": readers,
        "decision": "plain zarr appends (consolidated root metadata as the commit, validity flags last)",
    }
    mb = 1e6
    result["table"] = [
        {
            "figure": f"append one date to a {n_dates}-date frame (plain zarr, as ingest)",
            "value": f"{plain_s:.2f} s, {plain_bytes / mb:.1f} MB written ({100 * plain_bytes / cube_bytes:.1f}% of a rebuild)",
            "goal": "only the new pairs written",
            "met": plain_bytes < 0.5 * cube_bytes,
        },
        {
            "figure": "append one date (Icechunk 1 commit)",
            "value": f"{ice_s:.2f} s, {ice_bytes / mb:.1f} MB written",
            "goal": None,
            "met": None,
        },
        {
            "figure": "crop reads through the loader: Icechunk / plain zarr",
            "value": (
                f"{ratio:.2f}x (CPU {read['icechunk']:.1f} vs {read['plain']:.1f} crops/s, "
                f"wall {read_wall['icechunk']:.1f} vs {read_wall['plain']:.1f})"
            ),
            "goal": ">= 0.90x",
            "met": ratio >= 0.9,
        },
        {
            "figure": "partial views seen by a concurrent reader during appends (plain zarr)",
            "value": f"{readers['plain']['partial']} of {readers['plain']['views']}",
            "goal": "0",
            "met": readers["plain"]["partial"] == 0 and readers["plain"]["views"] > 0,
        },
    ]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller frame, fewer dates and crops")
    args = parser.parse_args()
    if args.quick:
        result = run(n_dates=8, size=768, n_crops=24, rounds=2, appends=3)
    else:
        result = run(n_dates=24, size=1024, n_crops=60, rounds=3, appends=4)
    for row in result["table"]:
        print(f"{row['figure']}: {row['value']}", flush=True)
    print(json.dumps(result, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
