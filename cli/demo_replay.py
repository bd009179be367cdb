"""`hmc demo`'s default story: replay real volcanic history through the monitor.

The twin of real frames (their real annotations over drawn physics, `hmc synth --twin`) is released as a
feed: the pairs acquired before `replay_from` (the paper's train and validation years) are ingested,
catalogued and trained on with the monitoring scheme (`replay` grid: frame windows, a calibrated
threshold); then the later pairs arrive `cycle_months` at a time, each batch followed by one warm
`hmc monitor` cycle. The demo ends with the status board and the replay table (monitor/replay.py): each
annotated episode, its first annotated pair, the first alert and the delay, and the false alerts per
volcano-year.
"""

from __future__ import annotations

import datetime as dt
import shlex
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import typer

from hephaestus.cli.demo_steps import Step

if TYPE_CHECKING:
    from hephaestus.cli.demo import DemoConfig
    from hephaestus.monitor.replay import ReplayReport
    from hephaestus.platform.annotation import Annotation


def cycle_dates(cfg: DemoConfig, end: dt.date | None = None) -> list[dt.date]:
    """The release dates of the replay: every `cycle_months` from `replay_from`, the last on
    `replay_until` or on `end` (the feed's last acquisition) when earlier; each cycle sees the pairs
    acquired up to its date."""
    last = min(cfg.replay_until, end) if end is not None else cfg.replay_until
    dates, month = [], 0
    while True:
        month += cfg.cycle_months
        y, m = divmod(cfg.replay_from.month - 1 + month, 12)
        end = dt.date(cfg.replay_from.year + y, m + 1, 1) - dt.timedelta(days=1)
        if end >= last:
            dates.append(last)
            return dates
        dates.append(end)


@cache
def _records(annotations: Path) -> tuple[Annotation, ...]:
    """The real annotations, parsed once for every release of the replay (~3 s each time otherwise)."""
    from hephaestus.ingest.synthetic.twin import load_records

    return tuple(load_records(annotations))


def feed_end(cfg: DemoConfig) -> dt.date:
    """The last acquisition of the twin's pairs (frames and baselines of `cfg`): the replay stops there."""
    days = [
        a.secondary
        for a in _records(cfg.annotations)
        if a.frame_id in cfg.twin_frames
        and (a.secondary - a.primary) <= np.timedelta64(cfg.max_baseline_days, "D")
    ]
    return max(days).astype("datetime64[D]").astype(dt.date)


def twin_step(sources: Path, cfg: DemoConfig, until: dt.date) -> Step:
    """`hmc synth --twin` of the demo's frames, released up to `until`."""
    from hephaestus.cli.synth import write_twin
    from hephaestus.ingest.synthetic.release import released_until

    argv = ["synth", str(sources), "--twin", str(cfg.annotations), "--frames", ",".join(cfg.twin_frames),
            "--scale", str(cfg.scale), "--max-baseline", str(cfg.max_baseline_days),
            "--until", until.isoformat()]  # fmt: skip

    def run() -> None:
        done = released_until(sources)
        if done is not None and done >= until:  # a re-run of the demo: released already
            typer.echo(f"already released up to {done}")
            return
        write_twin(
            sources,
            cfg.annotations,
            ",".join(cfg.twin_frames),
            cfg.scale,
            cfg.seed,
            cfg.max_baseline_days,
            until,
            _records(cfg.annotations),
        )

    return Step(argv, run)


def history_steps(root: Path, cfg: DemoConfig) -> list[Step]:
    """Up to training: the twin's early years, ingest, catalog, the replay grid."""
    from hephaestus.catalog import CatalogConfig
    from hephaestus.cli.catalog import publish_catalog
    from hephaestus.cli.ingest import build_cubes
    from hephaestus.cli.train import train_grid
    from hephaestus.ingest import IngestConfig
    from hephaestus.train.config import grid_preset

    sources, store, results = root / "sources", str(root / "store"), str(root / "results")
    ingest, catalog, grid = (
        IngestConfig(sources=str(sources), out=store),
        CatalogConfig(),
        grid_preset("replay"),
    )
    return [
        twin_step(sources, cfg, cfg.replay_from - dt.timedelta(days=1)),
        Step(["ingest", str(sources), "--out", store], lambda: build_cubes(ingest), ingest),
        Step(["catalog", "build", store], lambda: publish_catalog(store, catalog), catalog),
        Step(
            ["benchmark", store, "--grid", "replay", "--out", results],
            lambda: train_grid(store, grid, results),
            grid,
        ),
    ]


def replay(root: Path, cfg: DemoConfig, checkpoints: list[str]) -> None:
    """Release the later years cycle by cycle, one warm monitoring cycle after each release."""
    from hephaestus.monitor.config import MonitorConfig
    from hephaestus.monitor.watch import Watcher

    sources, store = root / "sources", str(root / "store")
    watch_cfg = MonitorConfig(sources=str(sources), store=store, checkpoints=tuple(checkpoints))
    argv = ["monitor", str(sources), store, *(a for c in checkpoints for a in ("--checkpoint", c))]
    dates = cycle_dates(cfg, feed_end(cfg))
    with Watcher(watch_cfg) as watcher:
        for i, until in enumerate(dates, 1):
            release = twin_step(sources, cfg, until)
            typer.secho(f"\n[replay {i}/{len(dates)}] up to {until}", bold=True)
            typer.secho(f"hmc {shlex.join(release.argv)}", bold=True)
            release.run()
            typer.secho(f"hmc {shlex.join(argv)}", bold=True)
            report = watcher.cycle()
            typer.echo(report.line())
            steps = ", ".join(
                f"{k} {v:.0f} s" for k, v in watcher.last_steps.items() if "." not in k and v >= 0.5
            )
            typer.echo(f"  {sum(v for k, v in watcher.last_steps.items() if '.' not in k):.0f} s: {steps}")


def print_replay(report: ReplayReport) -> None:
    """The replay table: each annotated episode and the monitor's first alert on it."""
    from rich.table import Table

    from hephaestus.cli.demo_report import report_console

    console = report_console()
    table = Table(title=f"replay since {report.since}: annotated episodes and the first alert")
    for name in ("volcano", "frame", "first annotated", "last annotated", "first alert", "delay"):
        table.add_column(name, justify="right" if name == "delay" else "left")
    for row in report.rows():
        delay = (
            "missed"
            if row["first_alert"] is None
            else f"{row['delay_days']} d ({row['delay_acquisitions']} acq.)"
        )
        table.add_row(
            str(row["volcano"]), str(row["frame_id"]), str(row["first_annotated"]), str(row["last_annotated"]),
            str(row["first_alert"] or "-"), delay,
        )  # fmt: skip
    console.print(table)
    rate = report.false_alerts_per_volcano_year
    console.print(
        f"{report.pairs} pairs replayed, {report.alerts} alerts, {report.false_alerts} on pairs annotated "
        f"without deformation: {rate:.2f} false alerts per volcano-year"
    )
