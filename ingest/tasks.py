"""The typed tasks of an ingest run: what the scheduler (ingest/scheduler.py) submits, as data.

Each task names the function it runs and its positional arguments (`call`); the scheduler alone knows how
they run (Ray). A task carries its frame's id, so that its completion can be routed to that frame's
lifecycle. The frame tasks (plan and stage a frame) live with the frame lifecycle (ingest/stage.py); here
are the write tasks a staged frame hands back, the ERA5 index task, and the argument wrappers that let
many frame tasks share one copy of the ERA5 index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from . import era5 as era5_mod
from .writer import FrameContext, PairJob, write_block, write_dem

DEM_TASK = "dem"
"""The task id of a frame's DEM task (block tasks are named by `plan.blocks_of`)."""

ERA5_PER_TASK = 16
"""At least this many ERA5 files per index task (a file's header costs a few milliseconds, a task ~1)."""


class Task:
    """A unit of work for the scheduler. `fatal`: a failure of this task ends the run (raised as the task's
    own exception); otherwise the failure is reported in the task's completion and the run goes on."""

    fatal: ClassVar[bool] = False

    @property
    def frame_id(self) -> str:
        raise NotImplementedError

    def call(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        """The function to run and its positional arguments (`Shared` / `Slices` ones are resolved by the
        scheduler before the function runs)."""
        raise NotImplementedError


@dataclass(frozen=True)
class WriteBlock(Task):
    """Fill the cells of one block of pair jobs (a region task) in the staged cube."""

    ctx: FrameContext
    jobs: list[PairJob]
    task_id: str
    staging: str

    @property
    def frame_id(self) -> str:
        return self.ctx.frame_id

    def call(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return write_block, (self.ctx, self.jobs, self.task_id, self.staging)


@dataclass(frozen=True)
class WriteDem(Task):
    """Write the frame's DEM from its LiCSAR hgt file or from a published cube."""

    ctx: FrameContext
    hgt_url: str | None
    source_cube: str | None
    staging: str

    @property
    def frame_id(self) -> str:
        return self.ctx.frame_id

    def call(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return write_dem, (self.ctx, self.hgt_url, self.source_cube, DEM_TASK, self.staging)


@dataclass(frozen=True)
class IndexEra5(Task):
    """Index one slice of the ERA5 files (a `Slices` argument is computed by these, in parallel)."""

    urls: list[str]
    fatal: ClassVar[bool] = True

    @property
    def frame_id(self) -> str:
        return ""

    def call(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return era5_mod.index_files, (self.urls,)


@dataclass(frozen=True)
class Shared:
    """A frame task argument that every frame task shares: put into the scheduler's object store once."""

    value: object


@dataclass(frozen=True)
class Slices:
    """Frame task arguments: the ERA5 index of these files, computed by index tasks (one per slice, in
    parallel) before the frame tasks, which start when the slices are ready."""

    urls: list[str]

    def tasks(self, cpus: int) -> list[IndexEra5]:
        return [IndexEra5(urls) for urls in era5_slices(self.urls, cpus)]


def era5_slices(urls: list[str], cpus: int) -> list[list[str]]:
    """Consecutive slices of the ERA5 file list, one index task each: at most one per CPU, at least
    `ERA5_PER_TASK` files each. Their results concatenated are the folder's index in folder order (the
    order `nearest_hour` breaks ties by)."""
    if not urls:
        return []
    n = max(1, min(cpus, len(urls) // ERA5_PER_TASK))
    bounds = [len(urls) * k // n for k in range(n + 1)]  # even sizes, differing by at most one
    return [urls[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
