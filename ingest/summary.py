"""What an ingest run did (`IngestSummary`), and how it reports progress (`Progress`).

The driver (ingest/runner.py) fills a summary as frames are planned, their tasks return and they are
published; `hmc ingest` prints it and the monitor records it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hephaestus.platform import storage

from .quarantine import QuarantineRecord
from .timing import add_into

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

    def add_task_result(self, result: dict) -> None:
        """A write task returned: its pairs written (or found written by an earlier run), bytes and time."""
        skipped = bool(result.get("skipped"))
        self.tasks_run += 0 if skipped else 1
        if not skipped:
            add_into(self.task_seconds, result.get("steps", {}))
            self.bytes_written += int(result["bytes"])
            self.peak_rss_mb_per_task = max(self.peak_rss_mb_per_task, float(result["peak_rss_mb"]))
        for o in result["outcomes"]:
            if o["status"] == "written":
                if skipped:
                    self.pairs_skipped += 1
                else:
                    self.pairs_written += 1

    def add_current(self, frame_id: str, dest: str, n_pairs: int, quarantined: int) -> None:
        """A frame whose published cube is current: skipped, its pairs and refused pairs counted."""
        self.frames_skipped.append(frame_id)
        self.pairs_skipped += n_pairs
        self.cube_urls.append(dest)
        self.pairs_quarantined += quarantined
