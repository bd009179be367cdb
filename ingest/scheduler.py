"""The only part of ingest that knows Ray: it submits typed tasks (ingest/tasks.py), waits for them, and
reports each completion to the driver (ingest/runner.py), which owns the frame lifecycle.

At most a few tasks per worker are in flight (`ray.wait`), so the driver holds small outcome records and
never pixels. Tasks lost with a node are retried by Ray (`retries`); writes are idempotent (same cells,
same bytes). An interrupted run cancels its queued and running tasks (`scheduling`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .tasks import Shared, Slices, Task

CANCEL_WAIT_S = 60.0
"""How long a cancelled run waits for its tasks in flight to stop."""
CANCEL_RETRY_S = 2.0
"""How often the tasks still running are cancelled again while it waits (Ray's cancel is best effort)."""


@dataclass
class Completion:
    """A task that returned (`result`) or failed for good (`error`: a one-line reason, and no result).
    A fatal task's failure is never reported here: it is raised (see `Task.fatal`)."""

    task: Task
    result: Any = None
    error: str | None = None


@contextmanager
def scheduling(address: str | None, *, workers: int | None, retries: int) -> Iterator[Scheduler]:
    """A Ray session (local, or the cluster at `address`) and a scheduler on it. Leaving it by an
    exception (a failed frame task, an interrupt, a progress callback's exception) cancels every task in
    flight: left alone they would keep writing into a staging folder after a later run has published the
    cube and removed that folder."""
    import ray

    from hephaestus.platform import signals
    from hephaestus.platform.ray_session import ray_session

    with ray_session(address, num_cpus=workers):
        signals.reinstall()  # ray.init replaced the CLI's SIGTERM handler (exit 143, not 15)
        scheduler = Scheduler(ray, workers=workers, retries=retries)
        try:
            yield scheduler
        except BaseException:
            scheduler.cancel()
            raise


class Scheduler:
    """A FIFO queue of tasks, a window of tasks in flight, and counts for progress: `done` tasks of
    `total` known (the total grows as tasks are added)."""

    def __init__(self, ray: Any, *, workers: int | None, retries: int) -> None:
        self._ray = ray
        self._options = ray.remote(num_cpus=1, max_retries=retries)
        self._remotes: dict[Callable[..., object], Any] = {}
        self.cpus = int(workers or ray.available_resources().get("CPU", 1) or 1)
        self._window = max(2, 4 * self.cpus)
        self._queue: list[Task] = []
        self._in_flight: dict[Any, Task] = {}
        self._shared: dict[int, tuple[object, list]] = {}  # id(argument) -> (argument, its references)
        self._argument_refs: list = []  # references of the tasks that compute `Slices` arguments
        self.done = 0
        self.total = 0

    @property
    def busy(self) -> bool:
        return bool(self._queue or self._in_flight)

    @property
    def in_flight(self) -> Mapping[Any, Task]:
        """The tasks submitted and not yet reported, by object reference (a read-only view)."""
        return MappingProxyType(self._in_flight)

    def add(self, tasks: list[Task]) -> None:
        """Queue tasks behind those already queued; they count in `total` from now on."""
        self._queue += tasks
        self.total += len(tasks)

    def fill(self) -> None:
        """Submit queued tasks, in order, until the window of tasks in flight is full."""
        while self._queue and len(self._in_flight) < self._window:
            task = self._queue.pop(0)
            self._in_flight[self._submit(task)] = task

    def argument_results(self) -> list:
        """Wait for the tasks that compute `Slices` arguments submitted so far; their results, in order
        (the frame tasks that take them wait for them too)."""
        return self._ray.get(self._argument_refs) if self._argument_refs else []

    def next(self) -> Completion:
        """Fill the window, wait for one task, and report it."""
        self.fill()
        ready, _ = self._ray.wait(list(self._in_flight), num_returns=1)
        ref = ready[0]
        task = self._in_flight.pop(ref)
        self.done += 1
        if task.fatal:
            return Completion(task, self._get_raising_cause(ref))
        try:
            return Completion(task, self._ray.get(ref))
        except Exception as exc:  # a task that failed for good (after its retries)
            cause = getattr(exc, "cause", None)  # the task's own exception, not Ray's `RayTaskError(...)`
            failure = cause if isinstance(cause, BaseException) else exc
            last_line = (str(failure).splitlines() or [""])[-1][:500]
            return Completion(task, error=f"{type(failure).__name__}: {last_line}")

    def cancel(self) -> None:
        """Cancel every task in flight and give them a minute to stop.

        Ray's cancel is best effort: one sent while a task is still being scheduled onto a worker can be
        lost, and the task then runs to its end (seen on a loaded 2-core machine). So the tasks still
        running are cancelled again every `CANCEL_RETRY_S` until they stop or the minute is over.
        """
        pending = list(self._in_flight)
        deadline = time.monotonic() + CANCEL_WAIT_S
        while pending and (left := deadline - time.monotonic()) > 0:
            for ref in pending:
                self._ray.cancel(ref)
            _, pending = self._ray.wait(pending, num_returns=len(pending), timeout=min(CANCEL_RETRY_S, left))

    def _submit(self, task: Task) -> Any:
        fn, args = task.call()
        if fn not in self._remotes:
            self._remotes[fn] = self._options(fn)
        return self._remotes[fn].remote(*self._resolve(args))

    def _resolve(self, args: tuple[object, ...]) -> list[object]:
        """Positional arguments with each `Shared` / `Slices` one replaced by its object references."""
        out: list[object] = []
        for a in args:
            if not isinstance(a, Shared | Slices):
                out.append(a)
                continue
            if id(a) not in self._shared:
                self._shared[id(a)] = (a, self._references(a))
            out += self._shared[id(a)][1]
        return out

    def _references(self, arg: Shared | Slices) -> list:
        """One `ray.put` of a shared value, or one index task per slice (submitted now)."""
        if isinstance(arg, Shared):
            return [self._ray.put(arg.value)]
        refs = [self._submit(task) for task in arg.tasks(self.cpus)]
        self._argument_refs.extend(refs)
        return refs

    def _get_raising_cause(self, ref: Any) -> Any:
        """A fatal task's result; its failure is raised as the task's own exception (a one-line error),
        not Ray's wrapper with the worker's traceback."""
        from ray.exceptions import RayTaskError

        try:
            return self._ray.get(ref)
        except RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise
