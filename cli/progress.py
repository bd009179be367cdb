"""What a person sees while a long command runs: progress bars with rate and time left, a live table of runs.

One bar style for every stage (synth, ingest, catalog build) and one table for training runs (train,
benchmark, demo), fed by the runs' history files (`hephaestus.train.history`), not by Ray's logs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

STATE_STYLES = {"queued": "dim", "running": "cyan", "done": "green", "failed": "red", "earlier": "dim green"}


class RateColumn(ProgressColumn):
    """Items per second (or seconds per item when slower than one a second)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("-/s", style="progress.data.speed")
        text = f"{speed:.1f}/s" if speed >= 1 else f"{1 / speed:.1f} s/it"
        return Text(text, style="progress.data.speed")


def progress_bar(**kwargs: Any) -> Progress:
    """The platform's progress bar: what, bar, done/total, rate, elapsed, time left."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        **kwargs,
    )


def _fmt(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


class RunsBoard:
    """A live table of training runs: state, epoch, losses, best validation F1, test score.

    `runs`: (run_id, epochs, task) per run; `event` takes the benchmark's events (plan/start/done/error).
    Rendering reads each running run's history (at most once a second).
    """

    def __init__(self, results_url: str, runs: Iterable[tuple[str, int, str]], title: str = "runs") -> None:
        self.results_url = results_url
        self.runs = list(runs)
        self.title = title
        self.state = {run_id: "queued" for run_id, _, _ in self.runs}
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._read_at = 0.0

    def event(self, kind: str, info: dict[str, Any]) -> None:
        run_id = info.get("run_id")
        if run_id not in self.state:
            return
        if kind == "start":
            self.state[run_id] = "running"
            self.started[run_id] = time.monotonic()
        elif kind in ("done", "error"):
            self.state[run_id] = "done" if kind == "done" else "failed"
            if run_id in self.started:
                self.seconds[run_id] = time.monotonic() - self.started[run_id]
        elif kind == "skip":
            self.state[run_id] = "earlier"

    def _refresh(self) -> None:
        from hephaestus.train import history

        if time.monotonic() - self._read_at < 1.0:
            return
        self._read_at = time.monotonic()
        for run_id, state in self.state.items():
            if state in ("running", "done", "failed") or run_id not in self._history:
                self._history[run_id] = history.read(history.history_url(self.results_url, run_id))
        for run_id, records in self._history.items():  # a run whose history is moving is running
            if records and self.state[run_id] == "queued":
                self.state[run_id] = "running"
                self.started.setdefault(run_id, time.monotonic())

    def table(self) -> Table:
        self._refresh()
        table = Table(title=self.title, title_justify="left")
        for name in ("run", "state", "epoch", "train loss", "val loss", "best val F1", "test", "s"):
            table.add_column(name, justify="left" if name in ("run", "state") else "right")
        for run_id, epochs, task in self.runs:
            records = self._history.get(run_id, [])
            epoch_rows = [r for r in records if not r.get("done")]
            last = epoch_rows[-1] if epoch_rows else {}
            f1s = [r["val_f1"] for r in epoch_rows if isinstance(r.get("val_f1"), int | float)]
            final = records[-1] if records and records[-1].get("done") else {}
            key = "test_auroc" if task == "classification" else "test_iou"
            test = (
                f"F1 {_fmt(final.get('test_f1'), 2)} {key[5:].upper()} {_fmt(final.get(key), 2)}"
                if final
                else "-"
            )
            state = self.state[run_id]
            seconds = self.seconds.get(run_id)
            if seconds is None and run_id in self.started:
                seconds = time.monotonic() - self.started[run_id]
            table.add_row(
                run_id,
                Text(state, style=STATE_STYLES.get(state, "")),
                f"{int(last['epoch']) + 1}/{epochs}" if "epoch" in last else f"-/{epochs}",
                _fmt(last.get("train_loss")),
                _fmt(last.get("val_loss")),
                _fmt(max(f1s) if f1s else None),
                test,
                _fmt(seconds, 0),
            )
        return table

    def __rich__(self) -> Table:
        return self.table()
