"""`hmc ingest --from-minicubes`: convert published cubes into the platform layout, with the same
Ray region tasks, staging, quarantine and publishing as an ingest from source products."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from hephaestus.platform import schema, storage
from hephaestus.platform.errors import InputError
from hephaestus.platform.layout import StoreLayout
from hephaestus.platform.locks import store_lock

from .config import ChunkingConfig
from .geotiff import Grid
from .plan import FrameBuild, blocks_of, empty_scalars, fingerprint
from .quarantine import QuarantineRecord
from .quarantine import write as write_quarantine
from .runner import IngestSummary, Progress, run_builds
from .sourcecube import frame_name, open_published, verify_chunks
from .writer import FrameContext, PairJob


class ConversionError(InputError):
    """A published cube that cannot be converted (unreadable, unsafe frame id, off the grid spacing)."""


def _grid(ds, url: str) -> Grid:  # type: ignore[no-untyped-def]
    lat = np.asarray(ds[schema.LAT].values, float)
    lon = np.asarray(ds[schema.LON].values, float)
    step = schema.GRID_SPACING_DEG
    for name, c in ((schema.LAT, -lat), (schema.LON, lon)):
        if c.size > 1 and not np.allclose(np.diff(c), step, atol=1e-7):
            raise ConversionError(f"{storage.redact(url)}: {name} spacing is not {step} deg")
    return Grid(
        lat_max=float(lat[0] + step / 2), lon_min=float(lon[0] - step / 2), height=lat.size, width=lon.size
    )


def plan_cube(url: str, zarr_format: int, chunking: ChunkingConfig, pairs_per_task: int) -> FrameBuild:
    """One FrameBuild copying every valid pair of a published cube (pair scalars read here: they are small)."""
    ds = open_published(url)
    verify_chunks(url)
    frame_id = str(ds.attrs.get("frame_id") or frame_name(url))
    storage.safe_component(frame_id, "frame id")
    grid = _grid(ds, url)
    primary = np.asarray(ds[schema.PRIMARY].values).astype("datetime64[D]")
    secondary = np.asarray(ds[schema.SECONDARY].values).astype("datetime64[D]")
    scalars = empty_scalars(primary.size, secondary.size)
    for name in schema.PAIR_VARIABLES:
        values = np.asarray(ds[name].values)
        scalars[name][...] = values.astype(scalars[name].dtype)
    valid = scalars.pop("valid_date_pair")
    jobs = [
        PairJob(
            i=int(i),
            j=int(j),
            kind="cube" if valid[i, j] else "empty",
            product=str(scalars["unique_id"][i, j]) or f"{i}_{j}",
            source_cube=url if valid[i, j] else None,
            source_index=(int(i), int(j)) if valid[i, j] else None,
        )
        for i in range(primary.size)
        for j in range(secondary.size)
        if valid[i, j] or zarr_format == 2
    ]
    loc = storage.location(url)
    try:
        size = loc.fs.du(loc.path, total=True)
    except (OSError, FileNotFoundError):
        size = -1
    ctx = FrameContext(frame_id=frame_id, cube_url="", zarr_format=zarr_format, grid=grid)
    build = FrameBuild(
        frame_id=frame_id,
        ctx=ctx,
        primary=primary,
        secondary=secondary,
        blocks=blocks_of(jobs, pairs_per_task),
        scalars=scalars,
        dem_cube=url,
        n_pairs=int(valid.sum()),
        description=str(ds.attrs.get("description", "")),
    )
    build.fingerprint = fingerprint(
        {
            "version": "convert-3",  # 2: v3 text as numbers, every v2 chunk written; 3: mask backgrounds
            "source": storage.redact(url),
            "size": size,
            "zarr_format": zarr_format,
            "chunking": chunking.model_dump(),
            "pairs_per_task": pairs_per_task,
            "dims": [primary, secondary, grid],
        }
    )
    return build


def convert_minicubes(
    paths: Sequence[str],
    out: str,
    *,
    zarr_format: int = 3,
    chunking: ChunkingConfig | None = None,
    workers: int | None = None,
    address: str | None = None,
    pairs_per_task: int = 4,
    retries: int = 5,
    progress: Progress | None = None,
) -> IngestSummary:
    """Convert published cubes (`.zarr`, `.zarr.zip`, `.zarr.tar`) into `out/cubes/<FRAME>.zarr`."""
    chunking = chunking or ChunkingConfig()
    out = storage.check_url(out, "output")
    with store_lock(out, "ingest"):
        return _convert(
            paths, out, zarr_format, chunking, workers, address, pairs_per_task, retries, progress
        )


def _convert(
    paths: Sequence[str],
    out: str,
    zarr_format: int,
    chunking: ChunkingConfig,
    workers: int | None,
    address: str | None,
    pairs_per_task: int,
    retries: int,
    progress: Progress | None,
) -> IngestSummary:
    t0 = time.perf_counter()
    summary = IngestSummary()
    builds: list[FrameBuild] = []
    seen: dict[str, str] = {}
    for url in paths:
        url = storage.normalize(url)
        try:
            build = plan_cube(url, zarr_format, chunking, pairs_per_task)
            if build.frame_id in seen:
                raise ConversionError(
                    f"frame {build.frame_id} already given by {storage.redact(seen[build.frame_id])}"
                )
        except Exception as exc:  # any unreadable cube (BadZipFile, zarr errors, ...) is quarantined
            rec = QuarantineRecord(frame_name(url), "cube", (url,), str(exc), "scan", kind="file")
            write_quarantine(out, rec)
            summary.quarantined.append(rec)
            continue
        seen[build.frame_id] = url
        builds.append(build)
    run_builds(
        builds,
        out,
        chunking,
        workers=workers,
        address=address,
        retries=retries,
        summary=summary,
        progress=progress,
    )
    from .publish import stored_bytes

    summary.bytes_stored = sum(stored_bytes(StoreLayout(out).cube(b.frame_id)) for b in builds)
    summary.seconds = time.perf_counter() - t0
    return summary
