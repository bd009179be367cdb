"""Frame tasks: plan a frame and stage it (PLANNED -> STAGED, or PUBLISHED when its cube is current).

They run as tasks (`PlanFrame`, `PrepareFrame`), so that frames are planned and staged in parallel with
each other and with other frames' writes; each returns a `FrameReady` with the frame's write tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from hephaestus.platform.layout import StoreLayout

from . import publish, strategy
from .config import ChunkingConfig, IngestConfig
from .frame import Frame, FrameReady, FrameStatus
from .plan import FrameBuild, plan_frame
from .sources import FrameSource
from .tasks import Shared, Slices, Task
from .timing import add_into, cpu_seconds


def prepare_frame(build: FrameBuild, store_url: str, chunking: ChunkingConfig) -> FrameReady:
    """Skip a frame whose published cube is current, or stage it and list its write tasks (a frame task)."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    ready = FrameReady(build.frame_id)
    layout = StoreLayout(store_url)
    dest = layout.cube(build.frame_id)
    if publish.published_fingerprint(dest) == build.fingerprint:
        ready.frame = Frame(build, "", dest, store_url)
        ready.frame.move(FrameStatus.PUBLISHED)
        ready.quarantined_before = quarantined_in_published(build, dest)  # (a cube that appeared since)
    else:
        staged = layout.staging(build.frame_id)
        build.ctx = replace(build.ctx, cube_url=staged.cube)
        how = strategy.choose(build, dest)
        frame = Frame(build, staged.url, dest, store_url, strategy=how)
        ready.tasks = how.stage(frame, chunking)
        frame.move(FrameStatus.STAGED)
        ready.frame = frame
    ready.seconds = {"prepare": elapsed(t0), "cpu": cpu_seconds() - c0}
    return ready


def plan_and_prepare(
    cfg: IngestConfig, fr: FrameSource, anns: list, store_url: str, *era5_slices: tuple[list, list]
) -> FrameReady:
    """One frame's planning (headers, ERA5 picks, fingerprints) and staging (its cube template).
    `era5_slices`: the ERA5 index in slices, in folder order (`era5.index_files`' results, or one slice)."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    era5_files = [f for files, _ in era5_slices for f in files]
    part = plan_frame(cfg, fr, anns, era5_files)
    planned = {"plan": elapsed(t0), "cpu": cpu_seconds() - c0}
    if not part.builds:
        return FrameReady(fr.frame_id, part=part, seconds=planned)
    ready = prepare_frame(part.builds[0], store_url, cfg.chunking)
    ready.part = part
    add_into(ready.seconds, planned)
    return ready


class FrameTask(Task):
    """A task that plans and/or stages a frame; it returns a `FrameReady`. Its failure ends the run."""

    fatal: ClassVar[bool] = True


@dataclass(frozen=True)
class PlanFrame(FrameTask):
    """Plan a frame from its sources, then stage it (`plan_and_prepare`); `era5`: the ERA5 index, shared
    by every frame task or computed by index tasks first."""

    cfg: IngestConfig
    source: FrameSource
    anns: list
    store_url: str
    era5: Shared | Slices

    @property
    def frame_id(self) -> str:
        return self.source.frame_id

    def call(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return plan_and_prepare, (self.cfg, self.source, self.anns, self.store_url, self.era5)


@dataclass(frozen=True)
class PrepareFrame(FrameTask):
    """Stage a frame planned on the driver (`prepare_frame`)."""

    build: FrameBuild
    store_url: str
    chunking: ChunkingConfig

    @property
    def frame_id(self) -> str:
        return self.build.frame_id

    def call(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return prepare_frame, (self.build, self.store_url, self.chunking)


def quarantined_in_published(b: FrameBuild, dest: str) -> int:
    """A current cube: the pairs its tasks refused (their records are already in the store)."""
    from hephaestus.platform.cube import open_cube

    valid = np.asarray(open_cube(dest, validate=False)["valid_date_pair"].values)
    return sum(1 for _, jobs in b.blocks for job in jobs if job.kind != "empty" and not valid[job.i, job.j])


def elapsed(t0: float) -> float:
    return time.perf_counter() - t0
