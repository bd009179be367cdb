"""How a frame's cube is written, chosen per frame (`choose`): rebuilt in a staging folder and swapped in, or
grown in place with new dates (the zarr mechanics of that are ingest/append.py's).

A strategy stages the frame (`stage`: the write tasks to run) and, once they all returned, publishes it
(`publish`). Strategies travel inside a staged `Frame` from the frame task to the driver: plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from hephaestus.platform import storage
from hephaestus.platform.cube import cube_template
from hephaestus.platform.layout import Staging, StoreLayout

from . import append, ledger, publish
from .config import ChunkingConfig
from .encoding import encoding
from .frame import Frame
from .plan import FrameBuild, blocks_of, region_fingerprint
from .tasks import Task, WriteBlock, WriteDem
from .writer import PairJob

if TYPE_CHECKING:
    from .summary import IngestSummary


class Strategy:
    """Stage a frame and list its write tasks; publish it after they returned."""

    def stage(self, frame: Frame, chunking: ChunkingConfig) -> list[Task]:
        raise NotImplementedError

    def publish(self, frame: Frame, valid: np.ndarray, summary: IngestSummary) -> None:
        """Commit the frame (`valid`: the cells its write tasks filled) and record it in `summary`."""
        raise NotImplementedError


def choose(build: FrameBuild, dest: str) -> Strategy:
    """Append when the plan only adds dates to the published cube at `dest`, else rebuild."""
    old = _appendable(build, dest)
    return Rebuild() if old is None else Append(old)


@dataclass(frozen=True)
class Rebuild(Strategy):
    """A staged cube from a template (or a resumed staging of the same plan, or a copy of the published
    cube whose unchanged tasks are marked done: ingest/ledger.py), published by a swap."""

    def stage(self, frame: Frame, chunking: ChunkingConfig) -> list[Task]:
        build, staging = frame.build, frame.staging
        if publish.read_plan_fingerprint(staging) == build.fingerprint:
            pass  # an interrupted run of the same plan: its finished tasks are skipped
        elif ledger.reuse_published(build, StoreLayout(frame.store_url), staging):
            build.ctx = replace(build.ctx, over_copy=True)
        else:
            _write_template(build, staging, chunking)
        tasks: list[Task] = [WriteBlock(build.ctx, jobs, task_id, staging) for task_id, jobs in build.blocks]
        # the DEM (one 2-D array, a fraction of a block's time) last: the run's last tasks are then short,
        # and fewer workers wait at its end for one long task
        tasks.append(WriteDem(build.ctx, build.dem_hgt, build.dem_cube, staging))
        return tasks

    def publish(self, frame: Frame, valid: np.ndarray, summary: IngestSummary) -> None:
        b, fmt = frame.build, frame.build.ctx.zarr_format
        scalars = dict(b.scalars)
        scalars["valid_date_pair"] = valid
        publish.write_pair_scalars(frame.staging, fmt, scalars)
        append.consolidate(Staging(frame.staging).cube, fmt)
        publish.publish(frame.staging, frame.dest, fmt)
        ledger.write_ledger(b, frame.store_url, frame.results)
        summary.cube_urls.append(frame.dest)


def _write_template(build: FrameBuild, staging: str, chunking: ChunkingConfig) -> None:
    lat, lon = build.ctx.grid.coords()
    template = cube_template(build.frame_id, build.primary, build.secondary, lat, lon, lazy=True)
    if build.description:
        template.attrs["description"] = build.description
    fmt = build.ctx.zarr_format
    enc = encoding(fmt, build.primary.size, build.secondary.size, lat.size, lon.size, chunking)
    publish.write_template(
        template,
        staging,
        build.fingerprint,
        fmt,
        enc,
        {"frame_id": build.frame_id, "tasks": len(build.blocks) + 1},
    )


@dataclass(frozen=True)
class Append(Strategy):
    """Grow the published cube `old` in place (invisible until the commit) and write the new cells only."""

    old: append.Published
    MODE: ClassVar[str] = "append"  # the staging plan record's "mode" of an append

    def stage(self, frame: Frame, chunking: ChunkingConfig) -> list[Task]:
        build, staging, old = frame.build, frame.staging, self.old
        o_p, o_s = old.shape
        record = publish.read_plan(staging)
        resumed = record.get("fingerprint") == build.fingerprint and record.get("mode") == self.MODE
        # an interrupted append of another plan may have left content in cells that are empty now
        stale = record.get("mode") == self.MODE and not resumed
        if not resumed:
            storage.remove(staging)
        fmt = build.ctx.zarr_format
        append.grow(frame.dest, fmt, old, build.primary, build.secondary)
        jobs = [j for j in build.jobs if j.i >= o_p or j.j >= o_s]
        if stale and fmt == 3:
            have = {(j.i, j.j) for j in jobs}
            jobs += [
                PairJob(i=i, j=j, kind="empty")
                for i in range(build.primary.size)
                for j in range(build.secondary.size)
                if (i >= o_p or j >= o_s) and (i, j) not in have
            ]
        blocks = blocks_of(jobs, int(build.base.get("pairs_per_task", 4)))
        if not resumed:
            publish.write_plan(
                staging,
                build.fingerprint,
                {
                    "frame_id": build.frame_id,
                    "tasks": len(blocks),
                    "mode": self.MODE,
                    "old_shape": [o_p, o_s],
                },
            )
        build.ctx = replace(build.ctx, cube_url=frame.dest, over_copy=stale)
        return [WriteBlock(build.ctx, tjobs, task_id, staging) for task_id, tjobs in blocks]

    def publish(self, frame: Frame, valid: np.ndarray, summary: IngestSummary) -> None:
        b, fmt, old = frame.build, frame.build.ctx.zarr_format, self.old
        o_p, o_s = old.shape
        valid[:o_p, :o_s] = False  # not written: the published cells keep their flags
        scalars = dict(b.scalars)
        scalars["valid_date_pair"] = valid
        append.write_new_pair_scalars(frame.dest, fmt, old, scalars)
        append.commit(frame.dest, fmt, old, b.fingerprint)
        ledger.drop_ledger(b, frame.store_url)
        storage.remove(frame.staging)
        summary.frames_appended.append(b.frame_id)
        summary.pairs_skipped += sum(1 for j in b.jobs if j.kind != "empty" and j.i < o_p and j.j < o_s)
        summary.cube_urls.append(frame.dest)


def _appendable(build: FrameBuild, dest: str) -> append.Published | None:
    """The published cube, when the plan only adds dates after its own and agrees on every published cell."""
    if not build.jobs:
        return None
    old = append.published(dest)
    if old is None or old.zarr_format != build.ctx.zarr_format or old.fingerprint is None:
        return None
    new_shape = (build.primary.size, build.secondary.size)
    if 0 in old.shape or old.shape == new_shape:
        return None
    if not (
        append.is_prefix(old.primary, build.primary) and append.is_prefix(old.secondary, build.secondary)
    ):
        return None
    if region_fingerprint(build, *old.shape) != old.fingerprint:
        return None  # a published cell would change: rebuild (or rewrite the changed tasks)
    return old
