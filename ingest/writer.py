"""Region writer: the Ray task that fills whole chunk-aligned regions (one pair per chunk along
primary/secondary) of a cube whose metadata the driver already wrote.

A task validates every input of a pair before writing any of it, so a refused product leaves no
partial pair behind; it records its outcome in a small done-marker so that a re-run skips it.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zarr
import zarr.storage

from hephaestus.platform import schema, storage
from hephaestus.platform.annotation import Polygon
from hephaestus.platform.layout import Staging

from . import era5 as era5_mod
from .encoding import V2_WRITE_EMPTY_CHUNKS, fill_value
from .geotiff import Grid, ProductError, read_band, read_coherence, read_phase
from .masks import rasterize_masks
from .shards import CellEncoder, cell_encoder
from .timing import StepTimes


@dataclass(frozen=True)
class FrameContext:
    """What every task of a frame needs: no pixels, only URLs and the grid."""

    frame_id: str
    cube_url: str
    zarr_format: int
    grid: Grid
    phase_tolerance: float = 1e-4
    era5_files: dict[str, era5_mod.Era5File] = field(default_factory=dict)
    # the staged cube is a copy of the published one (a partial rewrite): a cell left without content
    # must be overwritten with fills, or the old content would stay
    over_copy: bool = False


@dataclass(frozen=True)
class PairJob:
    """One cell (i, j) of the primary x secondary grid and where its content comes from."""

    i: int
    j: int
    kind: str  # "licsar" | "cube" | "empty"
    product: str = ""  # uniqueID or pair name, for quarantine records
    phase: str | None = None
    coherence: str | None = None
    polygons: tuple[Polygon, ...] = ()
    era5_primary: era5_mod.Era5Pick | None = None
    era5_secondary: era5_mod.Era5Pick | None = None
    source_cube: str | None = None
    source_index: tuple[int, int] | None = None

    def files(self) -> list[str]:
        out = [f for f in (self.phase, self.coherence, self.source_cube) if f]
        out += [p.url for p in (self.era5_primary, self.era5_secondary) if p is not None]
        return out


def open_store(url: str, read_only: bool = False) -> zarr.abc.store.Store:
    if storage.is_local(url):
        return zarr.storage.LocalStore(storage.normalize(url), read_only=read_only)
    return zarr.storage.FsspecStore.from_url(
        url, storage_options=storage.storage_options(url), read_only=read_only
    )


class _TimedStore(zarr.storage.WrapperStore):
    """A store that counts the wall time during which at least one `set` is in flight (the write step of
    a task's timers; zarr's encoding is the rest of a `__setitem__`). Set calls run on zarr's one event
    loop, so the counter needs no lock."""

    def __init__(self, store: zarr.abc.store.Store, clock: list[float] | None = None) -> None:
        super().__init__(store)
        self.clock = clock if clock is not None else [0.0, 0.0, 0.0]  # seconds, in flight, started

    def _with_store(self, store: zarr.abc.store.Store) -> _TimedStore:
        return type(self)(store, self.clock)

    @property
    def seconds(self) -> float:
        return self.clock[0]

    async def set(self, key: str, value: Any) -> None:
        c = self.clock
        if c[1] == 0:
            c[2] = time.perf_counter()
        c[1] += 1
        try:
            await self._store.set(key, value)
        finally:
            c[1] -= 1
            if c[1] == 0:
                c[0] += time.perf_counter() - c[2]


class _Arrays:
    """Zarr arrays of a cube opened by path, without its root group (not published yet)."""

    def __init__(self, cube_url: str, zarr_format: int) -> None:
        self.store = _TimedStore(open_store(cube_url))
        self.zarr_format = zarr_format
        self._open: dict[str, zarr.Array] = {}
        self._encoders: dict[str, CellEncoder | None] = {}

    def __getitem__(self, name: str) -> zarr.Array:
        if name not in self._open:
            array = zarr.open_array(self.store, path=name, mode="r+", zarr_format=self.zarr_format)
            if self.zarr_format == 2:
                array = array.with_config({"write_empty_chunks": V2_WRITE_EMPTY_CHUNKS})
            self._open[name] = array
        return self._open[name]

    def write_cell(self, i: int, j: int, data: dict[str, np.ndarray], times: StepTimes) -> None:
        """Every variable of one (primary, secondary) cell. Sharded one-cell-per-shard arrays are encoded
        here, in this thread (`shards.CellEncoder`: zarr's generic write spends ~5x the codec's CPU on its
        hand-offs); all stores and any other array's zarr write go in one round trip to zarr's event loop."""
        from zarr.core.sync import sync

        store = self.store
        jobs = []
        with times.step("encode"):
            for name, values in data.items():
                enc = self._encoder(name)
                if enc is None:
                    jobs.append(self[name].async_array.setitem((i, j), values))
                    continue
                buf = enc.encode(values)
                key = enc.key(i, j)
                jobs.append(store.delete(key) if buf is None else store.set(key, buf))

        async def write_all() -> None:
            await asyncio.gather(*jobs)

        t0, w0 = time.perf_counter(), store.seconds
        with times.step("write"):
            sync(write_all())
        # zarr's own writes encode inside this round trip: what the store did not spend is encoding
        times.move("write", "encode", max(0.0, time.perf_counter() - t0 - (store.seconds - w0)))

    def set_whole(self, values: dict[str, np.ndarray]) -> None:
        """Write these whole arrays, opening and writing all of them in one round trip to zarr's event loop
        (the driver publishes a frame's pair scalars this way: one round trip, not two per array)."""
        from zarr.api.asynchronous import open_array
        from zarr.core.sync import sync

        async def one(name: str, value: np.ndarray) -> None:
            array = await open_array(store=self.store, path=name, mode="r+", zarr_format=self.zarr_format)
            if self.zarr_format == 2:
                array = array.with_config({"write_empty_chunks": V2_WRITE_EMPTY_CHUNKS})
            await array.setitem(Ellipsis, value)

        async def write_all() -> None:
            await asyncio.gather(*(one(name, value) for name, value in values.items()))

        sync(write_all())

    def _encoder(self, name: str) -> CellEncoder | None:
        if name not in self._encoders:
            self._encoders[name] = cell_encoder(self[name])
        return self._encoders[name]


def _era5_fields(
    ctx: FrameContext, pick: era5_mod.Era5Pick, cache: dict, times: StepTimes
) -> dict[str, np.ndarray]:
    key = (pick.url, pick.time_index)
    if key not in cache:
        entry = ctx.era5_files[pick.url]
        with times.step("era5_open"):
            hour = era5_mod.hour_cached(entry, pick.time_index)
        with times.step("era5_resample"):
            cache[key] = era5_mod.resample_hour(hour, entry, pick.time_index, ctx.grid)
    return cache[key]


def _licsar_pair(ctx: FrameContext, job: PairJob, cache: dict, times: StepTimes) -> dict[str, np.ndarray]:
    assert job.phase and job.coherence and job.era5_primary and job.era5_secondary
    with times.step("read_geotiff"):
        out = {
            "insar_difference": read_phase(job.phase, ctx.grid, ctx.phase_tolerance),
            "insar_coherence": read_coherence(job.coherence, ctx.grid),
        }
    for which, pick in (("primary", job.era5_primary), ("secondary", job.era5_secondary)):
        for f, values in _era5_fields(ctx, pick, cache, times).items():
            out[schema.era5_variable(which, f)] = values
    with times.step("masks"):
        out.update(rasterize_masks(job.polygons, ctx.grid.height, ctx.grid.width))
    return out


def _cube_pair(job: PairJob, cache: dict, times: StepTimes) -> dict[str, np.ndarray]:
    from .sourcecube import open_published, platform_backgrounds

    assert job.source_cube and job.source_index
    if job.source_cube not in cache:
        cache[job.source_cube] = open_published(job.source_cube)
    src = cache[job.source_cube]
    i, j = job.source_index
    names = [n for n in schema.RASTER_VARIABLES if n in src.variables]  # an optional one it predates: fill
    with times.step("read_cube"):
        cell = src[names].isel({schema.PRIMARY: i, schema.SECONDARY: j}).load()
    data = {name: np.asarray(cell[name].values).astype(schema.VARIABLES[name].dtype) for name in names}
    return platform_backgrounds(data)


def _fills(ctx: FrameContext) -> dict[str, np.ndarray]:
    """v2 only: the "no product" chunks of a pair, which the published layout stores (see layout)."""
    h, w = ctx.grid.height, ctx.grid.width
    return {
        name: np.full((h, w), fill_value(name), dtype=schema.VARIABLES[name].dtype)
        for name in schema.RASTER_VARIABLES
    }


def _one_thread() -> None:
    """A write task holds one CPU of Ray's accounting, so its codecs run on one thread. Called from a worker's
    main thread, numcodecs' blosc would split every chunk over a thread per core (2 here): two workers on two
    cores would then run four compressing threads, and one worker would use more than the core it counts."""
    from numcodecs import blosc

    blosc.use_threads = False


def _finished(staging_url: str, task_id: str) -> dict | None:
    """The recorded outcome of a task that already ran (a re-run skips it), or None."""
    marker = Staging(staging_url).done_marker(task_id)
    if not storage.exists(marker):
        return None
    result = json.loads(storage.read_bytes(marker))
    result["skipped"] = True
    return result


def _record(staging_url: str, task_id: str, result: dict) -> dict:
    """Write the task's done-marker last: only a finished task is ever skipped."""
    storage.write_text_atomic(Staging(staging_url).done_marker(task_id), json.dumps(result))
    result["skipped"] = False
    return result


def write_block(ctx: FrameContext, jobs: list[PairJob], task_id: str, staging_url: str) -> dict:
    """Fill the cells of `jobs`; returns (and records) per-pair outcomes, bytes and peak memory."""
    done = _finished(staging_url, task_id)
    if done is not None:
        return done
    _one_thread()
    t0 = time.perf_counter()
    times = StepTimes()
    arrays = _Arrays(ctx.cube_url, ctx.zarr_format)
    cache: dict = {}
    outcomes: list[dict] = []
    nbytes = 0
    for job in jobs:
        try:
            if job.kind == "licsar":
                data = _licsar_pair(ctx, job, cache, times)
            elif job.kind == "cube":
                data = _cube_pair(job, cache, times)
            else:
                data = None
            status, reason = ("written", "") if data is not None else ("empty", "")
        except ProductError as exc:
            data, status, reason = None, "quarantined", str(exc)
        except (ConnectionError, TimeoutError):
            raise  # the store or a source is unreachable: the task fails and Ray retries it
        except Exception as exc:  # anything else one product does is that product's record
            data, status, reason = (
                None,
                "quarantined",
                f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}",
            )
        if data is None and (ctx.zarr_format == 2 or ctx.over_copy):
            data = _fills(ctx)
        if data:
            arrays.write_cell(job.i, job.j, data, times)
            nbytes += sum(int(values.nbytes) for values in data.values())
        outcomes.append(
            {
                "i": job.i,
                "j": job.j,
                "product": job.product,
                "status": status,
                "reason": reason,
                "files": job.files(),
            }
        )
    result = {
        "task_id": task_id,
        "outcomes": outcomes,
        "bytes": nbytes,
        "seconds": time.perf_counter() - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "steps": times.close(),
    }
    return _record(staging_url, task_id, result)


def write_dem(
    ctx: FrameContext, hgt_url: str | None, source_cube: str | None, task_id: str, staging_url: str
) -> dict:
    """The frame's DEM from its LiCSAR hgt (or from a published cube when converting)."""
    done = _finished(staging_url, task_id)
    if done is not None:
        return done
    _one_thread()
    t0 = time.perf_counter()
    times = StepTimes()
    if source_cube:
        from .sourcecube import open_published

        with times.step("read_cube"):
            dem = np.asarray(open_published(source_cube)["dem"].values, dtype="float32")
    elif hgt_url is None:  # the hgt was quarantined by the planner: the DEM is no data
        dem = np.full((ctx.grid.height, ctx.grid.width), np.nan, dtype="float32")
    else:
        with times.step("read_geotiff"):
            dem, _ = read_band(hgt_url, ctx.grid)
    arrays = _Arrays(ctx.cube_url, ctx.zarr_format)
    array = arrays["dem"]
    with times.step("encode"):
        array[:, :] = dem
    times.move("encode", "write", arrays.store.seconds)
    result = {
        "task_id": task_id,
        "outcomes": [],
        "bytes": int(dem.nbytes),
        "seconds": time.perf_counter() - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "steps": times.close(),
    }
    return _record(staging_url, task_id, result)
