"""Orchestration: stage each planned cube, run its region tasks on Ray, finish and publish it.

The driver submits tasks and collects their small outcome records (`ray.wait`); it never holds
pixels. Tasks lost with a node are retried by Ray; writes are idempotent (same cells, same bytes).
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
from .config import ChunkingConfig
from .encoding import encoding
from .plan import FrameBuild, blocks_of, region_fingerprint
from .quarantine import QuarantineRecord
from .quarantine import clear as clear_quarantine
from .quarantine import write as write_quarantine
from .timing import add_into
from .writer import PairJob, write_block, write_dem

DEM_TASK = "dem"

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


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
    # "cpu" seconds), and the driver's own serial phases (plan, prepare, publish)
    task_seconds: dict[str, float] = field(default_factory=dict)
    driver_seconds: dict[str, float] = field(default_factory=dict)

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
    specs: list[tuple[str, tuple]] = [("dem", (build.ctx, build.dem_hgt, build.dem_cube, DEM_TASK, staging))]
    specs += [("block", (build.ctx, jobs, task_id, staging)) for task_id, jobs in build.blocks]
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
    todo: list[FrameBuild] = []
    for b in builds:
        dest = StoreLayout(store_url).cube(b.frame_id)
        if publish.published_fingerprint(dest) == b.fingerprint:
            summary.frames_skipped.append(b.frame_id)
            summary.pairs_skipped += b.n_pairs
            summary.cube_urls.append(dest)
            _requarantine_from_published(b, dest, summary)
            continue
        todo.append(b)
    if not todo:
        return summary

    import ray

    from hephaestus.platform.ray_session import ray_session

    with ray_session(address, num_cpus=workers):
        block_task = ray.remote(num_cpus=1, max_retries=retries)(write_block)
        dem_task = ray.remote(num_cpus=1, max_retries=retries)(write_dem)
        states: dict[str, _FrameState] = {}
        queue: list[tuple[str, str, tuple]] = []
        window = max(2, 4 * int(workers or ray.available_resources().get("CPU", 1) or 1))
        in_flight: dict[ray.ObjectRef, str] = {}

        def submit() -> None:
            while queue and len(in_flight) < window:
                frame_id, kind, args = queue.pop(0)
                ref = (block_task if kind == "block" else dem_task).remote(*args)
                in_flight[ref] = frame_id

        done = total = 0
        try:
            for b in todo:
                t0 = time.perf_counter()
                state, specs = _prepare(b, store_url, chunking)
                add_into(summary.driver_seconds, {"prepare": elapsed(t0)})
                states[b.frame_id] = state
                # finished tasks (done-marker in staging) return their recorded outcome at once
                queue += [(b.frame_id, kind, args) for kind, args in specs]
                state.pending = len(specs)
                total += len(specs)
                if not specs:  # an append whose new pairs have no product: only flags and dates to commit
                    _finish(state, summary)
                submit()  # this frame's tasks run while the driver stages the next frame
            if progress:
                progress(0, total)
            while queue or in_flight:
                submit()
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in ready:
                    frame_id = in_flight.pop(ref)
                    state = states[frame_id]
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # a task that failed for good: the frame is not published
                        state.failed = (
                            state.failed or f"{type(exc).__name__}: {str(exc).splitlines()[-1][:500]}"
                        )
                        result = None
                    if result is not None:
                        _account(state, result, summary)
                        state.results[str(result.get("task_id", DEM_TASK))] = result
                    state.pending -= 1
                    done += 1
                    if progress:
                        progress(done, total)
                    if state.pending == 0:
                        t0 = time.perf_counter()
                        _finish(state, summary)
                        add_into(summary.driver_seconds, {"publish": elapsed(t0)})
        except BaseException:
            _cancel(in_flight)
            raise
    summary.cube_urls.sort()
    return summary


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


def _requarantine_from_published(b: FrameBuild, dest: str, summary: IngestSummary) -> None:
    """A skipped cube: count the pairs its tasks refused (their records are already in the store)."""
    from hephaestus.platform.cube import open_cube

    valid = np.asarray(open_cube(dest, validate=False)["valid_date_pair"].values)
    for _, jobs in b.blocks:
        for job in jobs:
            if job.kind != "empty" and not valid[job.i, job.j]:
                summary.pairs_quarantined += 1


def elapsed(t0: float) -> float:
    return time.perf_counter() - t0
