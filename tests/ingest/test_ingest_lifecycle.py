"""The ingest driver's parts: the frame lifecycle's states, the typed tasks, the scheduler's window,
failure reports and cancellation on a real local Ray (running the tasks of scheduler_tasks.py); and that
the scheduler is the only ingest module that knows Ray."""

from __future__ import annotations

import ast
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import scheduler_tasks
from scheduler_tasks import SLOW_S, BadFrame, Half, SlowHalf

from hephaestus.ingest.frame import Frame, FrameStatus, LifecycleError
from hephaestus.ingest.scheduler import Scheduler
from hephaestus.ingest.stage import PrepareFrame, prepare_frame
from hephaestus.ingest.tasks import DEM_TASK, WriteDem

INGEST = Path(__file__).resolve().parents[2] / "ingest"


def _frame() -> Frame:
    return Frame(SimpleNamespace(frame_id="F1"), "staging", "dest", "store")  # type: ignore[arg-type]


def test_a_frame_moves_through_its_states_in_order() -> None:
    frame = _frame()
    assert frame.status is FrameStatus.PLANNED and not frame.finished
    with pytest.raises(LifecycleError, match="planned cannot become writing"):
        frame.start_writing(2)
    frame.move(FrameStatus.STAGED)
    frame.start_writing(2)
    assert frame.status is FrameStatus.WRITING and not frame.finished
    frame.task_returned("r0", {"outcomes": [{"status": "written", "i": 0, "j": 0}]})
    assert not frame.finished and frame.results == {
        "r0": {"outcomes": [{"status": "written", "i": 0, "j": 0}]}
    }
    frame.task_returned(DEM_TASK, {"outcomes": []})
    assert frame.finished and len(frame.outcomes) == 1
    frame.move(FrameStatus.PUBLISHED)
    with pytest.raises(LifecycleError):
        frame.move(FrameStatus.FAILED)


def test_a_failed_write_task_fails_the_frame_once_its_other_tasks_returned() -> None:
    frame = _frame()
    frame.move(FrameStatus.STAGED)
    frame.start_writing(3)
    frame.task_failed("OSError: first")
    assert frame.status is FrameStatus.FAILED and not frame.finished
    frame.task_failed("OSError: second")
    frame.task_returned("r1", {"outcomes": []})
    assert frame.finished and frame.failure == "OSError: first"
    with pytest.raises(LifecycleError):
        frame.move(FrameStatus.PUBLISHED)


def test_a_staged_frame_without_tasks_is_finished_at_once() -> None:
    frame = _frame()
    frame.move(FrameStatus.STAGED)
    frame.start_writing(0)  # an append whose new pairs have no product: only flags and dates to commit
    assert frame.finished


def test_tasks_are_typed_and_frame_tasks_are_fatal() -> None:
    from hephaestus.ingest.writer import write_dem

    ctx = SimpleNamespace(frame_id="F2")
    dem = WriteDem(ctx, "hgt.tif", None, "st")  # type: ignore[arg-type]
    assert dem.frame_id == "F2" and dem.call() == (write_dem, (ctx, "hgt.tif", None, DEM_TASK, "st"))
    prep = PrepareFrame(SimpleNamespace(frame_id="F3"), "store", None)  # type: ignore[arg-type]
    assert prep.call()[0] is prepare_frame and prep.frame_id == "F3"
    assert PrepareFrame.fatal and not WriteDem.fatal


def test_only_the_scheduler_imports_ray() -> None:
    importers = set()
    for path in INGEST.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(n == "ray" or n.startswith("ray.") for n in names):
                importers.add(path.relative_to(INGEST).as_posix())
    assert importers == {"scheduler.py"}


@pytest.fixture()
def scheduler_ray(ray_local: None) -> Iterator[object]:
    """The module's local Ray (2 CPUs, 127.0.0.1), running the functions of scheduler_tasks.py."""
    import ray

    with scheduler_tasks.by_value():
        yield ray


def test_scheduler_keeps_a_window_and_reports_failures_in_one_line(scheduler_ray: Any) -> None:
    ray = scheduler_ray
    scheduler = Scheduler(ray, workers=1, retries=3)
    scheduler.add([Half(x) for x in (10, -3, 4, 6, 8, 2)])
    assert scheduler.total == 6
    scheduler.fill()
    assert len(scheduler.in_flight) == 4  # 4 tasks per worker in flight, the other 2 queued
    seen = set()
    while scheduler.busy:
        done = scheduler.next()
        assert len(scheduler.in_flight) <= 3  # the window, less the one just reported
        seen.add((done.task.frame_id, done.result, done.error))
        if done.task == Half(4):
            scheduler.add([Half(100)])  # a frame task's write tasks join the queue as it returns
    assert seen == {
        ("F10", 5, None),
        ("F-3", None, "ValueError: negative: -3"),
        ("F4", 2, None),
        ("F6", 3, None),
        ("F8", 4, None),
        ("F2", 1, None),
        ("F100", 50, None),
    }
    assert (scheduler.done, scheduler.total) == (7, 7)


def test_a_fatal_task_failure_is_raised_as_its_cause_and_cancel_takes_the_rest(scheduler_ray: Any) -> None:
    from ray.exceptions import TaskCancelledError

    ray = scheduler_ray
    scheduler = Scheduler(ray, workers=1, retries=0)
    scheduler.add([BadFrame(1), SlowHalf(2), SlowHalf(4)])
    with pytest.raises(ValueError, match="^bad frame 1$"):
        scheduler.next()
    left = dict(scheduler.in_flight)
    assert set(left.values()) == {SlowHalf(2), SlowHalf(4)}
    started = time.monotonic()
    scheduler.cancel()
    assert time.monotonic() - started < SLOW_S  # stopped, not waited for
    for ref in left:
        with pytest.raises(TaskCancelledError):
            ray.get(ref, timeout=10)
