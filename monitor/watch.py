"""A warm watcher: monitoring cycles in one process that keeps what every cycle would otherwise redo.

`hmc monitor --every` repeats `run_cycle` (monitor/cycle.py). Run cold, each cycle paid for starting a
Ray runtime for the ingest, loading the checkpoints and reading their training record, and (as its own
process) the imports: tens of seconds for one new pair. A `Watcher` starts one Ray session (local and
on loopback as `ray_session` starts it, or the cluster at `address`) that every cycle's ingest joins,
and keeps the loaded models and the checkpoints' baseline until a checkpoint file changes (size and
mtime, or ETag/generation on object stores: `storage.file_version`). `after` runs once a cycle is done
(the CLI publishes a new version of the dashboard there, incrementally) and is timed as the step "dashboard".
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from hephaestus.monitor.baseline import Baseline
from hephaestus.monitor.config import MonitorConfig
from hephaestus.monitor.cycle import CycleProgress, CycleReport, StepClock, run_cycle
from hephaestus.platform import storage
from hephaestus.platform.layout import CheckpointFiles
from hephaestus.train.frame_score import FrameModels
from hephaestus.train.predict import resolve_checkpoint

Fingerprint = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def checkpoint_fingerprint(checkpoints: tuple[str, ...]) -> Fingerprint:
    """What changes when a checkpoint is replaced or retrained: each resolved checkpoint folder and the
    versions of the files a model loads from (a run folder that gains a newer checkpoint changes too)."""
    out = []
    for url in checkpoints:
        folder = resolve_checkpoint(url)
        files = []
        for name in (CheckpointFiles.RUN, CheckpointFiles.INPUT, CheckpointFiles.BEST, CheckpointFiles.MODEL):
            path = storage.join(folder, name)
            if storage.exists(path):
                files.append((name, storage.file_version(path)))
        out.append((folder, tuple(files)))
    return tuple(out)


@dataclass
class Warm:
    """What a watcher keeps between cycles, and how often it had to load it."""

    models: FrameModels | None = None
    baseline: Baseline | None = None
    fingerprint: Fingerprint | None = None
    loads: int = 0  # times the checkpoints were loaded (1 unless a checkpoint file changed)


@dataclass
class Watcher:
    """Cycles of one monitor configuration in one warm process: use as a context manager (the Ray
    session lives inside it), call `cycle()` as often as wanted."""

    cfg: MonitorConfig
    after: Callable[[CycleReport], None] | None = None
    keep_ray: bool = True  # False (one cycle): Ray starts only if the cycle ingests, as run_cycle alone
    progress: CycleProgress | None = None
    warm: Warm = field(default_factory=Warm)
    last_steps: dict[str, float] = field(default_factory=dict)
    _stack: contextlib.ExitStack | None = None

    def __enter__(self) -> Watcher:
        from hephaestus.platform.ray_session import ray_session

        stack = contextlib.ExitStack()
        try:
            self.load()  # a broken checkpoint is named before Ray starts or a product is ingested
            if self.keep_ray:
                stack.enter_context(ray_session(self.cfg.address, num_cpus=self.cfg.workers))
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def load(self) -> Warm:
        """The models and baseline of the checkpoints, loaded again only when a checkpoint file changed."""
        if not self.cfg.checkpoints:
            return self.warm
        now = checkpoint_fingerprint(self.cfg.checkpoints)
        if now != self.warm.fingerprint or self.warm.models is None:
            models = FrameModels.load(self.cfg.checkpoints, self.cfg.store, self.cfg.batch_size)
            baseline = Baseline.of_checkpoints(self.cfg.since, self.cfg.checkpoints)
            self.warm.models, self.warm.baseline, self.warm.fingerprint = models, baseline, now
            self.warm.loads += 1
        return self.warm

    def cycle(self) -> CycleReport:
        """One cycle with the warm models; `last_steps` then holds its seconds by step (`STEPS`, then
        "models": checking the checkpoints, loading them again if one changed, and "dashboard" when
        `after` ran; "ingest.*" entries say where the ingest's time went)."""
        clock = StepClock()
        with clock.step("models"):
            warm = self.load()
        report = run_cycle(
            self.cfg, models=warm.models, baseline=warm.baseline, clock=clock, progress=self.progress
        )
        if self.after is not None:
            with clock.step("dashboard"):
                self.after(report)
        self.last_steps = dict(clock.seconds)
        return report
