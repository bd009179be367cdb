"""The lifecycle of one frame's cube in an ingest run, as explicit states.

    PLANNED -> STAGED -> WRITING -> PUBLISHED
                  (a write task failed for good) WRITING -> FAILED   (not published)
    PLANNED -> PUBLISHED                         (the published cube already has this plan's fingerprint)

A frame is staged by a frame task (ingest/stage.py) with a strategy chosen for it (ingest/strategy.py:
rebuild the cube in a staging folder, or append new dates to the published cube in place), which also
lists the write tasks; the driver (ingest/runner.py) counts those tasks down as they return and, after the
last, has the strategy publish the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from hephaestus.platform.errors import PlatformRuntimeError

if TYPE_CHECKING:
    from .plan import FrameBuild, Plan
    from .strategy import Strategy
    from .tasks import Task


class FrameStatus(Enum):
    PLANNED = "planned"  # a FrameBuild: what the cube will hold, nothing staged yet
    STAGED = "staged"  # its staging (template, copy or grown cube) is ready, its write tasks listed
    WRITING = "writing"  # its write tasks are queued or running; `pending` of them not yet returned
    PUBLISHED = "published"  # committed (or already current): readers see the new cube
    FAILED = "failed"  # a write task failed for good: the frame is not published


_NEXT: dict[FrameStatus, frozenset[FrameStatus]] = {
    FrameStatus.PLANNED: frozenset({FrameStatus.STAGED, FrameStatus.PUBLISHED}),
    FrameStatus.STAGED: frozenset({FrameStatus.WRITING}),
    FrameStatus.WRITING: frozenset({FrameStatus.PUBLISHED, FrameStatus.FAILED}),
    FrameStatus.PUBLISHED: frozenset(),
    FrameStatus.FAILED: frozenset(),
}


class LifecycleError(PlatformRuntimeError):
    """A frame asked to move to a state that cannot follow its own (a bug in the driver, not bad input)."""


@dataclass
class Frame:
    """One frame in a run: its build, where it is staged and published, its strategy and its state."""

    build: FrameBuild
    staging: str
    dest: str
    store_url: str
    strategy: Strategy | None = None
    status: FrameStatus = FrameStatus.PLANNED
    pending: int = 0  # write tasks not yet returned
    outcomes: list[dict] = field(default_factory=list)  # per-pair outcomes of the returned write tasks
    failure: str | None = None  # the first write task failure, when FAILED
    results: dict[str, dict] = field(default_factory=dict)  # task id -> its result (for the ledger)

    @property
    def frame_id(self) -> str:
        return self.build.frame_id

    def move(self, status: FrameStatus) -> None:
        if status not in _NEXT[self.status]:
            raise LifecycleError(f"frame {self.frame_id}: {self.status.value} cannot become {status.value}")
        self.status = status

    def start_writing(self, n_tasks: int) -> None:
        """Its write tasks are handed to the scheduler (none: published at once, e.g. an append whose new
        pairs have no product commits only flags and dates)."""
        self.move(FrameStatus.WRITING)
        self.pending = n_tasks

    def task_returned(self, task_id: str, result: dict) -> None:
        self.outcomes.extend(result["outcomes"])
        self.results[task_id] = result
        self.pending -= 1

    def task_failed(self, error: str) -> None:
        """A write task failed for good: the frame will not be published (its other tasks still return)."""
        if self.status is not FrameStatus.FAILED:
            self.failure = error
            self.move(FrameStatus.FAILED)
        self.pending -= 1

    @property
    def finished(self) -> bool:
        """Every write task returned: the frame is ready to publish (or to be reported failed)."""
        return self.status in (FrameStatus.WRITING, FrameStatus.FAILED) and self.pending == 0


@dataclass
class FrameReady:
    """What a frame task hands the driver: the frame's part of the plan (when it planned the frame), and
    either its staged frame with the write tasks to run, or the note that its published cube is current."""

    frame_id: str
    part: Plan | None = None
    frame: Frame | None = None
    tasks: list[Task] = field(default_factory=list)
    quarantined_before: int = 0  # current cube: the pairs its tasks refused when it was built
    seconds: dict[str, float] = field(default_factory=dict)  # plan, prepare, cpu

    @property
    def current(self) -> bool:
        """The published cube already has this plan's fingerprint: nothing to do."""
        return self.frame is not None and self.frame.status is FrameStatus.PUBLISHED
