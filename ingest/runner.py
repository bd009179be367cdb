"""Orchestration: plan and stage each cube in a frame task, run its write tasks, finish and publish it.

The driver hands typed tasks to the scheduler (ingest/scheduler.py, the only part that knows Ray) and
moves each frame through its lifecycle (ingest/frame.py) as their completions come back: a frame task
stages a frame with its strategy (ingest/strategy.py: rebuild or append) and lists its write tasks; after
the frame's last write task the driver quarantines the refused pairs and the strategy publishes the cube.
The driver never holds pixels, and its own serial work stays small (the survey of the sources, dispatch,
publishing), so that a second worker can nearly halve a run.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from hephaestus.platform import storage
from hephaestus.platform.layout import StoreLayout

from . import era5 as era5_mod
from . import publish
from .config import ChunkingConfig, IngestConfig
from .frame import Frame, FrameReady, FrameStatus
from .plan import FrameBuild, Plan, Survey, add_era5, merge, plan_frame
from .quarantine import QuarantineRecord
from .quarantine import clear as clear_quarantine
from .quarantine import write as write_quarantine
from .scheduler import Completion, Scheduler, scheduling
from .stage import FrameTask, PlanFrame, PrepareFrame, elapsed, plan_and_prepare, prepare_frame
from .stage import quarantined_in_published as _quarantined_in_published
from .summary import IngestSummary, Progress
from .tasks import DEM_TASK, ERA5_PER_TASK, Shared, Slices, Task, era5_slices
from .timing import add_into

__all__ = [  # (names other modules and tests have imported from here)
    "DEM_TASK",
    "ERA5_PER_TASK",
    "FrameReady",
    "IngestSummary",
    "Progress",
    "era5_slices",
    "plan_and_prepare",
    "prepare_frame",
    "run_builds",
    "run_survey",
]

log = logging.getLogger(__name__)


def run_builds(
    builds: list[FrameBuild],
    store_url: str,
    chunking: ChunkingConfig,
    *,
    workers: int | None,
    address: str | None,
    retries: int,
    summary: IngestSummary,
    progress: Progress | None = None,
) -> IngestSummary:
    """Build, finish and publish every planned frame; quarantine refused pairs; skip finished work."""
    tasks: list[Task] = [
        PrepareFrame(b, store_url, chunking) for b in builds if not _skip_if_current(b, store_url, summary)
    ]
    return _drive(
        tasks,
        store_url,
        workers=workers,
        address=address,
        retries=retries,
        summary=summary,
        progress=progress,
    )


def run_survey(
    cfg: IngestConfig,
    survey: Survey,
    store_url: str,
    *,
    summary: IngestSummary,
    progress: Progress | None = None,
) -> IngestSummary:
    """Plan, build, finish and publish the frames of a survey; their plan parts join `survey.plan`.

    A frame with no published cube yet is planned and staged by its own task, and its write tasks are
    submitted as soon as that returns; unindexed ERA5 files (`survey_sources(index_era5=False)`) are then
    indexed by tasks too, in slices, before the frame tasks. A frame with a published cube is planned here,
    as before tasks existed: a re-run whose cubes are all current then ends without starting Ray at all."""
    layout = StoreLayout(store_url)
    fresh = {fr.frame_id for fr, _ in survey.frames if not storage.exists(layout.cube(fr.frame_id))}
    by_tasks = bool(fresh) and len(fresh) == len(survey.frames)
    if survey.era5_unindexed and not by_tasks:  # frames planned here need the index (and bad files are
        _take_era5(survey, *era5_mod.index_files(survey.era5_unindexed), store_url, summary)  # named anyway)
    tasks: list[Task] = []
    for fr, anns in survey.frames:
        if fr.frame_id in fresh:
            continue
        t0 = time.perf_counter()
        part = plan_frame(cfg, fr, anns, survey.era5_files)
        add_into(summary.driver_seconds, {"plan": elapsed(t0)})
        _take_part(part, store_url, summary, survey.plan)
        tasks += [
            PrepareFrame(b, store_url, cfg.chunking)
            for b in part.builds
            if not _skip_if_current(b, store_url, summary)
        ]
    era5: Shared | Slices
    if fresh and survey.era5_unindexed:
        era5 = Slices(survey.era5_unindexed)  # indexed by tasks, each slice a task
    else:
        era5 = Shared((survey.era5_files, []))  # one copy in the object store, not one per frame task
    tasks += [PlanFrame(cfg, fr, anns, store_url, era5) for fr, anns in survey.frames if fr.frame_id in fresh]
    return _drive(
        tasks,
        store_url,
        workers=cfg.workers,
        address=cfg.address,
        retries=cfg.task_retries,
        summary=summary,
        progress=progress,
        survey=survey,
    )


def _take_era5(
    survey: Survey, files: list, bad: list[tuple[str, str]], store_url: str, summary: IngestSummary
) -> None:
    """Indexed ERA5 files join the survey; those that cannot serve are quarantined by name."""
    for rec in add_era5(survey, files, bad):
        write_quarantine(store_url, rec)
        summary.quarantined.append(rec)
    survey.era5_unindexed = []


def _drive(
    tasks: list[Task],
    store_url: str,
    *,
    workers: int | None,
    address: str | None,
    retries: int,
    summary: IngestSummary,
    progress: Progress | None,
    survey: Survey | None = None,
) -> IngestSummary:
    """The driver: hand the frame tasks to the scheduler, then each frame's write tasks as soon as its frame
    task returns, and publish each frame when its last write task returns. Progress counts every task,
    frame tasks included; it is reported before the frame's publishing ("all tasks done" comes before the
    commit). Any exception (a frame task's, the progress callback's) cancels the tasks in flight."""
    if not tasks:
        return summary
    frames: dict[str, Frame] = {}
    plan = survey.plan if survey is not None else None
    with scheduling(address, workers=workers, retries=retries) as scheduler:
        scheduler.add(tasks)
        if progress:
            progress(0, scheduler.total)
        scheduler.fill()
        slices = scheduler.argument_results()  # the ERA5 index slices (the frame tasks wait for these too)
        if slices and survey is not None:
            files = [f for fs, _ in slices for f in fs]
            _take_era5(survey, files, [b for _, bs in slices for b in bs], store_url, summary)
        while scheduler.busy:
            done = scheduler.next()
            _completed(done, scheduler, store_url, summary, plan, frames)
            if progress:
                progress(scheduler.done, scheduler.total)
            frame = frames.get(done.task.frame_id)
            if frame is not None and frame.finished:
                _publish(frame, summary)
                del frames[frame.frame_id]
    summary.cube_urls.sort()
    return summary


def _completed(
    done: Completion,
    scheduler: Scheduler,
    store_url: str,
    summary: IngestSummary,
    plan: Plan | None,
    frames: dict[str, Frame],
) -> None:
    """Route a completion: a frame task's result stages its frame (its write tasks are queued), a write
    task's result (or failure) is counted in its frame."""
    if isinstance(done.task, FrameTask):
        scheduler.add(_frame_ready(done.result, store_url, summary, plan, frames))
        return
    frame = frames[done.task.frame_id]
    if done.error is not None:  # a task that failed for good: the frame is not published
        frame.task_failed(done.error)
        return
    summary.add_task_result(done.result)
    frame.task_returned(str(done.result.get("task_id", DEM_TASK)), done.result)


def _frame_ready(
    ready: FrameReady, store_url: str, summary: IngestSummary, plan: Plan | None, frames: dict[str, Frame]
) -> list[Task]:
    """A frame task returned: record its plan part, skip a current cube or start writing a staged one."""
    add_into(summary.frame_seconds, ready.seconds)
    if ready.part is not None:
        _take_part(ready.part, store_url, summary, plan)
    frame = ready.frame
    if frame is None:
        return []
    if ready.current:
        summary.add_current(frame.frame_id, frame.dest, frame.build.n_pairs, ready.quarantined_before)
        return []
    frames[frame.frame_id] = frame  # published once its last write task returns (at once when it has none)
    frame.start_writing(len(ready.tasks))
    return ready.tasks


def _skip_if_current(build: FrameBuild, store_url: str, summary: IngestSummary) -> bool:
    """On the driver: a frame whose published cube already has this plan's fingerprint is skipped."""
    dest = StoreLayout(store_url).cube(build.frame_id)
    if publish.published_fingerprint(dest) != build.fingerprint:
        return False
    summary.add_current(build.frame_id, dest, build.n_pairs, _quarantined_in_published(build, dest))
    return True


def _take_part(part: Plan, store_url: str, summary: IngestSummary, plan: Plan | None) -> None:
    """One frame's part of the plan: its quarantine records go to the store and the summary."""
    for rec in part.quarantine:
        write_quarantine(store_url, rec)
    if plan is not None:
        merge(plan, part)
    summary.quarantined.extend(part.quarantine)
    summary.pairs_quarantined += sum(1 for r in part.quarantine if r.kind == "pair")
    summary.pairs_without_product += part.no_product


def _publish(frame: Frame, summary: IngestSummary) -> None:
    t0 = time.perf_counter()
    _finish(frame, summary)
    add_into(summary.driver_seconds, {"publish": elapsed(t0)})


def _finish(frame: Frame, summary: IngestSummary) -> None:
    """Every write task returned: report a failed frame, or quarantine its refused pairs and publish it."""
    if frame.status is FrameStatus.FAILED:
        summary.frames_failed[frame.frame_id] = str(frame.failure)
        log.error("frame %s not published: %s", frame.frame_id, frame.failure)
        return
    valid = _valid_cells(frame, summary)
    assert frame.strategy is not None  # a staged frame has one
    frame.strategy.publish(frame, valid, summary)
    frame.move(FrameStatus.PUBLISHED)


def _valid_cells(frame: Frame, summary: IngestSummary) -> np.ndarray:
    """The cells the write tasks filled; pairs they refused are quarantined, stale verdicts cleared."""
    b = frame.build
    valid = np.zeros((b.primary.size, b.secondary.size), dtype=bool)
    for o in frame.outcomes:
        if o["status"] == "written":
            valid[o["i"], o["j"]] = True
            clear_quarantine(frame.store_url, b.frame_id, o["product"])  # a stale verdict goes
        elif o["status"] == "quarantined":
            rec = QuarantineRecord(b.frame_id, o["product"], tuple(o["files"]), o["reason"], "pixels")
            write_quarantine(frame.store_url, rec)
            summary.quarantined.append(rec)
            summary.pairs_quarantined += 1
    return valid
