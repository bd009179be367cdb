"""Cheap per-task step timers: where a write task's time goes (read GeoTIFF, ERA5, masks, encode, write).

A task fills a `StepTimes` as it works and returns it in its small outcome record; the driver sums the
records of a run (`IngestSummary.task_seconds`). Two `perf_counter` calls per step and pair: nothing
next to a pair's milliseconds, so the timers stay on in every run and measure the real task code.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

STEPS = ("read_geotiff", "era5_open", "era5_resample", "masks", "read_cube", "encode", "write", "other")
"""Steps of a write task, in pipeline order. `encode` is zarr's chunk encoding (codecs, shard assembly,
its event-loop round trips), `write` the store's own `set` calls, `other` the rest of the task (opening
arrays, fills, validation bookkeeping, the done-marker)."""


def cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class StepTimes:
    """Wall and CPU seconds per step of one task, plus the task's own (`close`).

    CPU seconds are the process's (every thread: zarr encodes on its thread pool), so that a breakdown
    stays meaningful on a machine where other work steals the cores and stretches wall times."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STEPS, 0.0)
        self.cpu: dict[str, float] = dict.fromkeys(STEPS, 0.0)
        self._t0 = time.perf_counter()
        self._cpu0 = cpu_seconds()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t, c = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t
            self.cpu[name] += cpu_seconds() - c

    def move(self, src: str, dst: str, seconds: float) -> None:
        """Re-attribute wall seconds timed inside step `src` to step `dst` (CPU moves in proportion)."""
        share = min(1.0, seconds / self.seconds[src]) if self.seconds[src] > 0 else 0.0
        self.seconds[src] -= seconds
        self.seconds[dst] += seconds
        cpu = share * self.cpu[src]
        self.cpu[src] -= cpu
        self.cpu[dst] += cpu

    def close(self) -> dict[str, float]:
        """The record: per step its wall seconds (`<step>`) and CPU seconds (`cpu_<step>`), with `other`
        the task's time outside the timed steps; `task` and `cpu` the task's totals."""
        wall, cpu = time.perf_counter() - self._t0, cpu_seconds() - self._cpu0
        out = dict(self.seconds)
        out["other"] += max(0.0, wall - sum(self.seconds.values()))
        out.update({f"cpu_{k}": v for k, v in self.cpu.items()})
        out["cpu_other"] += max(0.0, cpu - sum(self.cpu.values()))
        out["task"] = wall
        out["cpu"] = cpu
        return out


def add_into(total: dict[str, float], record: dict[str, float]) -> None:
    """Sum one task's record into a run's totals."""
    for k, v in record.items():
        total[k] = total.get(k, 0.0) + float(v)
