"""Functions that the scheduler tests (test_ingest_lifecycle.py) run on Ray workers, and their tasks.

Ray workers get the driver's script folder and working directory on their path, not tests/ingest/, so
the tests register this module to be pickled by value (`by_value`) rather than imported by name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

from hephaestus.ingest.tasks import Task

SLOW_S = 30.0  # long enough that a test that waits for a slow task instead of cancelling it fails


def half(x: int) -> int:
    """Half of x; a negative x fails with a message over several lines, as a worker's traceback would."""
    if x < 0:
        raise ValueError(f"worker traceback\nline 2\nnegative: {x}")
    return x // 2


def slow_half(x: int) -> int:
    """Half of x, after SLOW_S: still running (or queued) when a sibling fails, so cancel must take it."""
    end = time.monotonic() + SLOW_S
    while time.monotonic() < end:  # short sleeps: Ray's cancel interrupts Python code, not one long sleep
        time.sleep(0.05)
    return x // 2


def bad_frame(x: int) -> int:
    raise ValueError(f"bad frame {x}")


@dataclass(frozen=True)
class Half(Task):
    x: int

    @property
    def frame_id(self) -> str:
        return f"F{self.x}"

    def call(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return half, (self.x,)


@dataclass(frozen=True)
class SlowHalf(Half):
    def call(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return slow_half, (self.x,)


@dataclass(frozen=True)
class BadFrame(Half):
    """A frame task (fatal): its failure is raised by the scheduler, not reported."""

    fatal: ClassVar[bool] = True

    def call(self) -> tuple[Callable[..., object], tuple[object, ...]]:
        return bad_frame, (self.x,)


@contextmanager
def by_value() -> Iterator[None]:
    """Ray pickles this module's functions by value while inside (workers cannot import it by name)."""
    import sys

    from ray import cloudpickle

    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        cloudpickle.unregister_pickle_by_value(module)
