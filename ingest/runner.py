"""Orchestration: plan and stage each cube in a frame task, run its region tasks on Ray, finish and publish it.

The driver submits tasks and collects their small outcome records (`ray.wait`); it never holds
pixels, and its own serial work stays small (the survey of the sources, dispatch, publishing), so that a
second worker can nearly halve a run. Tasks lost with a node are retried by Ray; writes are idempotent (same cells, same bytes).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from hephaestus.platform import storage
from hephaestus.platform.cube import cube_template
from hephaestus.platform.layout import Staging, StoreLayout

from . import append, publish
from . import era5 as era5_mod
from .config import ChunkingConfig, IngestConfig
from .encoding import encoding
from .plan import FrameBuild, Plan, Survey, add_era5, blocks_of, merge, plan_frame, region_fingerprint
from .quarantine import QuarantineRecord
from .quarantine import clear as clear_quarantine
from .quarantine import write as write_quarantine
from .sources import FrameSource
from .timing import add_into, cpu_seconds
from .writer import PairJob, write_block, write_dem

DEM_TASK = "dem"

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""(tasks done, tasks known): frame tasks and write tasks; the total grows as frame tasks return their write
tasks, and every task is counted before its frame is published."""


@dataclass
class IngestSummary:
    """What a run did: counts, bytes, time and the cubes it published."""

    pairs_written: int = 0
    pairs_skipped: int = 0
    pairs_quarantined: int = 0
    pairs_without_product: int = 0
    bytes_written: int = 0  # uncompressed bytes of cube content written by tasks in this run
    bytes_stored: int = 0  # size of the published cubes in the store
    seconds: float = 0.0
    cube_urls: list[str] = field(default_factory=list)
    frames_skipped: list[str] = field(default_factory=list)
    frames_appended: list[str] = field(default_factory=list)  # published cubes that grew in place
    frames_failed: dict[str, str] = field(default_factory=dict)
    quarantined: list[QuarantineRecord] = field(default_factory=list)
    files_ignored: dict[str, str] = field(default_factory=dict)  # input file -> why no cube uses it
    files: dict[str, int] = field(default_factory=dict)  # inputs: ingested / quarantined / ignored
    peak_rss_mb_per_task: float = 0.0
    tasks_run: int = 0
    # where the time went: write tasks' steps summed over the tasks run (timing.STEPS, plus "task" wall and
    # "cpu" seconds), and the driver's own serial phases (plan: the survey of the sources; publish)
    task_seconds: dict[str, float] = field(default_factory=dict)
    driver_seconds: dict[str, float] = field(default_factory=dict)
    # frame tasks (plan and stage a frame), summed: "plan" and "prepare" wall seconds, "cpu" seconds
    frame_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.frames_failed

    def as_dict(self) -> dict[str, object]:
        return {
            "pairs_written": self.pairs_written,
            "pairs_skipped": self.pairs_skipped,
            "pairs_quarantined": self.pairs_quarantined,
            "pairs_without_product": self.pairs_without_product,
            "bytes_written": self.bytes_written,
            "bytes_stored": self.bytes_stored,
            "seconds": round(self.seconds, 3),
            "cube_urls": [storage.redact(u) for u in self.cube_urls],
            "frames_skipped": self.frames_skipped,
            "frames_appended": self.frames_appended,
            "frames_failed": self.frames_failed,
            "files": self.files,
            "files_ignored": {storage.redact(u): why for u, why in sorted(self.files_ignored.items())},
            "peak_rss_mb_per_task": round(self.peak_rss_mb_per_task, 1),
            "task_seconds": {k: round(v, 3) for k, v in self.task_seconds.items()},
            "driver_seconds": {k: round(v, 3) for k, v in self.driver_seconds.items()},
            "frame_seconds": {k: round(v, 3) for k, v in self.frame_seconds.items()},
        }


@dataclass
class _FrameState:
    build: FrameBuild
    staging: str
    dest: str
    store_url: str
    pending: int
    outcomes: list[dict] = field(default_factory=list)
    failed: str | None = None
    results: dict[str, dict] = field(default_factory=dict)  # task id -> its result (for the ledger)
    grown_from: append.Published | None = None  # an append to this published cube (see ingest/append.py)


def _prepare(build: FrameBuild, store_url: str, chunking: ChunkingConfig) -> tuple[_FrameState, list]:
    """Stage a frame (or resume its staging); returns its state, the task specs to run and pairs skipped."""
    layout = StoreLayout(store_url)
    dest = layout.cube(build.frame_id)
    staged = layout.staging(build.frame_id)
    staging = staged.url
    fmt = build.ctx.zarr_format
    build.ctx = replace(build.ctx, cube_url=staged.cube)
    state = _FrameState(build, staging, dest, store_url, pending=0)
    old = _appendable(build, dest)
    if old is not None:
        return state, _prepare_append(state, old)
    if publish.read_plan_fingerprint(staging) == build.fingerprint:
        pass  # an interrupted run of the same plan: its finished tasks are skipped
    elif _reuse_published(build, layout, staging):
        build.ctx = replace(build.ctx, over_copy=True)
    else:
        lat, lon = build.ctx.grid.coords()
        template = cube_template(build.frame_id, build.primary, build.secondary, lat, lon, lazy=True)
        if build.description:
            template.attrs["description"] = build.description
        enc = encoding(fmt, build.primary.size, build.secondary.size, lat.size, lon.size, chunking)
        publish.write_template(
            template,
            staging,
            build.fingerprint,
            fmt,
            enc,
            {"frame_id": build.frame_id, "tasks": len(build.blocks) + 1},
        )
    specs: list[tuple[str, tuple]] = [
        ("block", (build.ctx, jobs, task_id, staging)) for task_id, jobs in build.blocks
    ]
    # the DEM (one 2-D array, a fraction of a block's time) last: the run's last tasks are then short,
    # and fewer workers wait at its end for one long task
    specs.append(("dem", (build.ctx, build.dem_hgt, build.dem_cube, DEM_TASK, staging)))
    return state, specs


APPEND_MODE = "append"


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


def _prepare_append(state: _FrameState, old: append.Published) -> list:
    """Grow the published cube in place (invisible until the commit) and plan the new cells' tasks."""
    build, staging = state.build, state.staging
    o_p, o_s = old.shape
    record = _staging_record(staging)
    resumed = record.get("fingerprint") == build.fingerprint and record.get("mode") == APPEND_MODE
    # an interrupted append of another plan may have left content in cells that are empty now
    stale = record.get("mode") == APPEND_MODE and not resumed
    if not resumed:
        storage.remove(staging)
    fmt = build.ctx.zarr_format
    append.grow(state.dest, fmt, old, build.primary, build.secondary)
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
            {"frame_id": build.frame_id, "tasks": len(blocks), "mode": APPEND_MODE, "old_shape": [o_p, o_s]},
        )
    build.ctx = replace(build.ctx, cube_url=state.dest, over_copy=stale)
    state.grown_from = old
    return [("block", (build.ctx, tjobs, task_id, staging)) for task_id, tjobs in blocks]


def _staging_record(staging: str) -> dict:
    url = Staging(staging).plan
    try:
        return json.loads(storage.read_bytes(url)) if storage.exists(url) else {}
    except (OSError, ValueError):
        return {}


def _reuse_published(build: FrameBuild, layout: StoreLayout, staging: str) -> bool:
    """Changed inputs invalidate exactly the tasks they feed: when the published local cube has the same
    structure (grid, axes, task layout) as the new plan, stage a copy of it and mark done every task whose
    inputs did not change (with its recorded outcome); only the others run. False: build from scratch."""
    dest = layout.cube(build.frame_id)
    ledger_url = layout.ledger(build.frame_id)
    if not build.structure or not storage.is_local(dest) or not storage.exists(ledger_url):
        return False
    try:
        ledger = json.loads(storage.read_bytes(ledger_url))
    except (OSError, ValueError):
        return False
    if ledger.get("structure") != build.structure or ledger.get(
        "fingerprint"
    ) != publish.published_fingerprint(dest):
        return False
    publish.stage_copy(dest, staging, build.fingerprint)
    for task_id, entry in ledger.get("tasks", {}).items():
        same = task_id == DEM_TASK or entry.get("fingerprint") == build.task_fingerprints.get(task_id)
        if same and task_id in build.task_fingerprints | {DEM_TASK: ""}:
            storage.write_text_atomic(Staging(staging).done_marker(task_id), json.dumps(entry["result"]))
    publish.write_plan(
        staging, build.fingerprint, {"frame_id": build.frame_id, "tasks": len(build.blocks) + 1}
    )
    return True


def _write_ledger(state: _FrameState) -> None:
    """After publishing: which task consumed which input versions, with what outcome (see _reuse_published)."""
    b = state.build
    if not b.structure:
        return
    tasks = {
        task_id: {
            "fingerprint": b.task_fingerprints.get(task_id, ""),
            "result": {k: v for k, v in result.items() if k not in ("skipped", "steps")},
        }
        for task_id, result in state.results.items()
    }
    body = {"fingerprint": b.fingerprint, "structure": b.structure, "tasks": tasks}
    storage.write_text_atomic(StoreLayout(state.store_url).ledger(b.frame_id), json.dumps(body))


@dataclass
class FrameReady:
    """What a frame task hands the driver: the frame's part of the plan (when it planned the frame), and
    either its staged state with the write tasks to run, or the note that its published cube is current."""

    frame_id: str
    part: Plan | None = None
    state: _FrameState | None = None
    specs: list = field(default_factory=list)
    current: bool = False  # the published cube already has this plan's fingerprint: nothing to do
    quarantined_before: int = 0  # current cube: the pairs its tasks refused when it was built
    seconds: dict[str, float] = field(default_factory=dict)  # plan, prepare, cpu


def prepare_frame(build: FrameBuild, store_url: str, chunking: ChunkingConfig) -> FrameReady:
    """Skip a frame whose published cube is current, or stage it and list its write tasks (a frame task)."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    ready = FrameReady(build.frame_id)
    dest = StoreLayout(store_url).cube(build.frame_id)
    if publish.published_fingerprint(dest) == build.fingerprint:
        ready.current = True
        ready.state = _FrameState(build, "", dest, store_url, pending=0)
        ready.quarantined_before = _quarantined_in_published(build, dest)  # (a cube that appeared since)
    else:
        ready.state, ready.specs = _prepare(build, store_url, chunking)
    ready.seconds = {"prepare": elapsed(t0), "cpu": cpu_seconds() - c0}
    return ready


def plan_and_prepare(
    cfg: IngestConfig, fr: FrameSource, anns: list, store_url: str, *era5_slices: tuple[list, list]
) -> FrameReady:
    """One frame's planning (headers, ERA5 picks, fingerprints) and staging (its cube template): a Ray task,
    so that frames are planned and staged in parallel with each other and with other frames' writes.
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


def _skip_if_current(build: FrameBuild, store_url: str, summary: IngestSummary) -> bool:
    """On the driver: a frame whose published cube already has this plan's fingerprint is skipped."""
    dest = StoreLayout(store_url).cube(build.frame_id)
    if publish.published_fingerprint(dest) != build.fingerprint:
        return False
    _record_current(build, dest, _quarantined_in_published(build, dest), summary)
    return True


def _record_current(build: FrameBuild, dest: str, quarantined: int, summary: IngestSummary) -> None:
    summary.frames_skipped.append(build.frame_id)
    summary.pairs_skipped += build.n_pairs
    summary.cube_urls.append(dest)
    summary.pairs_quarantined += quarantined


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
    frames = [
        ("prepare", b.frame_id, (b, store_url, chunking))
        for b in builds
        if not _skip_if_current(b, store_url, summary)
    ]
    return _run(
        frames,
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
    frames: list[tuple[str, str, tuple]] = []
    for fr, anns in survey.frames:
        if fr.frame_id in fresh:
            continue
        t0 = time.perf_counter()
        part = plan_frame(cfg, fr, anns, survey.era5_files)
        add_into(summary.driver_seconds, {"plan": elapsed(t0)})
        _take_part(part, store_url, summary, survey.plan)
        frames += [
            ("prepare", b.frame_id, (b, store_url, cfg.chunking))
            for b in part.builds
            if not _skip_if_current(b, store_url, summary)
        ]
    if fresh and survey.era5_unindexed:
        era5: tuple = (Slices(survey.era5_unindexed),)  # indexed by tasks (_run), each slice a task
    else:
        era5 = (Shared((survey.era5_files, [])),)  # one copy in Ray's object store, not one per frame task
    frames += [
        ("plan", fr.frame_id, (cfg, fr, anns, store_url, *era5))
        for fr, anns in survey.frames
        if fr.frame_id in fresh
    ]
    return _run(
        frames,
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


@dataclass(frozen=True)
class Shared:
    """A frame task argument that every frame task shares: put into Ray's object store once."""

    value: object


@dataclass(frozen=True)
class Slices:
    """Frame task arguments: the ERA5 index of these files, computed by index tasks (one per slice, in
    parallel) before the frame tasks, which Ray starts when the slices are ready."""

    urls: list[str]


def _run(
    frames: list[tuple[str, str, tuple]],
    store_url: str,
    *,
    workers: int | None,
    address: str | None,
    retries: int,
    summary: IngestSummary,
    progress: Progress | None,
    survey: Survey | None = None,
) -> IngestSummary:
    """The driver: submit the frame tasks ("plan": plan_and_prepare, "prepare": prepare_frame), then each
    frame's write tasks as soon as its frame task returns, and publish each frame when its last write task
    returns. At most a few tasks per worker are in flight (`ray.wait`); the driver holds no pixels."""
    if not frames:
        return summary
    import ray

    from hephaestus.platform.ray_session import ray_session

    with ray_session(address, num_cpus=workers):
        remote = ray.remote(num_cpus=1, max_retries=retries)
        task_of = {
            "plan": remote(plan_and_prepare),
            "prepare": remote(prepare_frame),
            "block": remote(write_block),
            "dem": remote(write_dem),
        }
        cpus = int(workers or ray.available_resources().get("CPU", 1) or 1)
        shared: dict[int, list] = {}
        index_task = remote(era5_mod.index_files)
        era5_refs: list = []

        def put(args: tuple) -> tuple:
            out: list = []
            for a in args:
                if isinstance(a, Shared | Slices):
                    if id(a) not in shared:
                        shared[id(a)] = _put(a, cpus, ray.put, index_task)
                        if isinstance(a, Slices):
                            era5_refs.extend(shared[id(a)])
                    out += shared[id(a)]
                else:
                    out.append(a)
            return tuple(out)

        states: dict[str, _FrameState] = {}
        queue: list[tuple[str, str, tuple]] = list(frames)
        window = max(2, 4 * cpus)
        in_flight: dict[ray.ObjectRef, tuple[str, str]] = {}

        def submit() -> None:
            while queue and len(in_flight) < window:
                kind, frame_id, args = queue.pop(0)
                in_flight[task_of[kind].remote(*put(args))] = (kind, frame_id)

        done, total = 0, len(frames)
        try:
            if progress:
                progress(0, total)
            submit()
            if era5_refs and survey is not None:  # the frame tasks wait for these too
                slices = ray.get(era5_refs)
                _take_era5(
                    survey,
                    [f for fs, _ in slices for f in fs],
                    [b for _, bs in slices for b in bs],
                    store_url,
                    summary,
                )
            while queue or in_flight:
                submit()
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in ready:
                    kind, frame_id = in_flight.pop(ref)
                    done += 1
                    if kind in ("plan", "prepare"):
                        plan = survey.plan if survey is not None else None
                        specs = _frame_ready(_frame_result(ref), store_url, summary, plan, states)
                        queue += [(k, frame_id, args) for k, args in specs]
                        total += len(specs)
                    else:
                        _write_done(ref, states[frame_id], summary)
                    if progress:  # before publishing: "all tasks done" comes before the commit
                        progress(done, total)
                    state = states.get(frame_id)
                    if state is not None and state.pending == 0:
                        _publish(state, summary)
                        del states[frame_id]
        except BaseException:
            _cancel(in_flight)
            raise
    summary.cube_urls.sort()
    return summary


def _put(arg: Shared | Slices, cpus: int, put: Callable, index_task: object) -> list:
    """Object references for a shared argument: one `ray.put`, or one ERA5 index task per slice."""
    if isinstance(arg, Shared):
        return [put(arg.value)]
    return [index_task.remote(urls) for urls in era5_slices(arg.urls, cpus)]  # type: ignore[attr-defined]


ERA5_PER_TASK = 16
"""At least this many ERA5 files per index task (a file's header costs a few milliseconds, a task ~1)."""


def era5_slices(urls: list[str], cpus: int) -> list[list[str]]:
    """Consecutive slices of the ERA5 file list, one index task each: at most one per CPU, at least
    `ERA5_PER_TASK` files each. Their results concatenated are the folder's index in folder order (the
    order `nearest_hour` breaks ties by)."""
    if not urls:
        return []
    n = max(1, min(cpus, len(urls) // ERA5_PER_TASK))
    bounds = [len(urls) * k // n for k in range(n + 1)]  # even sizes, differing by at most one
    return [urls[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _frame_result(ref: object) -> FrameReady:
    """A frame task's result; its failure is raised as the task's own exception (a one-line error, as when
    the driver staged frames itself), not Ray's wrapper with the worker's traceback."""
    import ray
    from ray.exceptions import RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise


def _frame_ready(
    ready: FrameReady,
    store_url: str,
    summary: IngestSummary,
    plan: Plan | None,
    states: dict[str, _FrameState],
) -> list:
    """A frame task returned: record its plan part, skip a current cube or queue its write tasks."""
    add_into(summary.frame_seconds, ready.seconds)
    if ready.part is not None:
        _take_part(ready.part, store_url, summary, plan)
    state = ready.state
    if state is None:
        return []
    b = state.build
    if ready.current:
        _record_current(b, state.dest, ready.quarantined_before, summary)
        return []
    states[b.frame_id] = state  # published once its last write task returns (at once when it has none:
    state.pending = len(ready.specs)  # an append whose new pairs have no product commits flags and dates)
    return ready.specs


def _take_part(part: Plan, store_url: str, summary: IngestSummary, plan: Plan | None) -> None:
    """One frame's part of the plan: its quarantine records go to the store and the summary."""
    for rec in part.quarantine:
        write_quarantine(store_url, rec)
    if plan is not None:
        merge(plan, part)
    summary.quarantined.extend(part.quarantine)
    summary.pairs_quarantined += sum(1 for r in part.quarantine if r.kind == "pair")
    summary.pairs_without_product += part.no_product


def _write_done(ref: object, state: _FrameState, summary: IngestSummary) -> None:
    """A write task returned (or failed for good): account for it."""
    import ray

    try:
        result = ray.get(ref)
    except Exception as exc:  # a task that failed for good: the frame is not published
        state.failed = state.failed or f"{type(exc).__name__}: {str(exc).splitlines()[-1][:500]}"
        result = None
    if result is not None:
        _account(state, result, summary)
        state.results[str(result.get("task_id", DEM_TASK))] = result
    state.pending -= 1


def _publish(state: _FrameState, summary: IngestSummary) -> None:
    t0 = time.perf_counter()
    _finish(state, summary)
    add_into(summary.driver_seconds, {"publish": elapsed(t0)})


def _cancel(in_flight: dict) -> None:
    """An interrupted run takes its queued and running tasks with it: left alone they would keep writing
    into the staging folder after a later run has published the cube and removed that folder."""
    import ray

    refs = list(in_flight)
    for ref in refs:
        ray.cancel(ref)
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=60)


def _account(state: _FrameState, result: dict, summary: IngestSummary) -> None:
    summary.tasks_run += 0 if result.get("skipped") else 1
    if not result.get("skipped"):
        add_into(summary.task_seconds, result.get("steps", {}))
        summary.bytes_written += int(result["bytes"])
        summary.peak_rss_mb_per_task = max(summary.peak_rss_mb_per_task, float(result["peak_rss_mb"]))
    for o in result["outcomes"]:
        state.outcomes.append(o)
        if o["status"] == "written":
            if result.get("skipped"):
                summary.pairs_skipped += 1
            else:
                summary.pairs_written += 1


def _finish(state: _FrameState, summary: IngestSummary) -> None:
    b = state.build
    if state.failed:
        summary.frames_failed[b.frame_id] = state.failed
        log.error("frame %s not published: %s", b.frame_id, state.failed)
        return
    valid = np.zeros((b.primary.size, b.secondary.size), dtype=bool)
    for o in state.outcomes:
        if o["status"] == "written":
            valid[o["i"], o["j"]] = True
            clear_quarantine(state.store_url, b.frame_id, o["product"])  # a stale verdict goes
        elif o["status"] == "quarantined":
            rec = QuarantineRecord(b.frame_id, o["product"], tuple(o["files"]), o["reason"], "pixels")
            write_quarantine(state.store_url, rec)
            summary.quarantined.append(rec)
            summary.pairs_quarantined += 1
    scalars = dict(b.scalars)
    old = state.grown_from
    if old is not None:
        o_p, o_s = old.shape
        valid[:o_p, :o_s] = False  # not written: the published cells keep their flags
        scalars["valid_date_pair"] = valid
        append.write_new_pair_scalars(state.dest, b.ctx.zarr_format, old, scalars)
        append.commit(state.dest, b.ctx.zarr_format, old, b.fingerprint)
        # the ledger's task layout no longer matches the grown cube: a changed input rebuilds it
        storage.remove(StoreLayout(state.store_url).ledger(b.frame_id))
        storage.remove(state.staging)
        summary.frames_appended.append(b.frame_id)
        summary.pairs_skipped += sum(1 for j in b.jobs if j.kind != "empty" and j.i < o_p and j.j < o_s)
        summary.cube_urls.append(state.dest)
        return
    scalars["valid_date_pair"] = valid
    publish.write_pair_scalars(state.staging, b.ctx.zarr_format, scalars)
    append.consolidate(Staging(state.staging).cube, b.ctx.zarr_format)
    publish.publish(state.staging, state.dest, b.ctx.zarr_format)
    _write_ledger(state)
    summary.cube_urls.append(state.dest)


def _quarantined_in_published(b: FrameBuild, dest: str) -> int:
    """A current cube: the pairs its tasks refused (their records are already in the store)."""
    from hephaestus.platform.cube import open_cube

    valid = np.asarray(open_cube(dest, validate=False)["valid_date_pair"].values)
    return sum(1 for _, jobs in b.blocks for job in jobs if job.kind != "empty" and not valid[job.i, job.j])


def elapsed(t0: float) -> float:
    return time.perf_counter() - t0
