"""`hmc monitor`: watch sources for new interferograms and turn each new pair into a score, maybe an alert.

The command repeats one cycle of the monitoring stage (`hephaestus.monitor.cycle.run_cycle`: discover,
ingest, update the catalog, score, alert) once or every DURATION, and prints what each cycle did. A watch
(`--every`) is one warm process (`hephaestus.monitor.watch.Watcher`: one Ray session, the models loaded
once) and may update the dashboard after each cycle (`--dashboard SITE`, as `hmc dashboard` does).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hephaestus.cli.common import (
    config_option,
    field_help,
    maybe_print,
    normalise_url,
    print_config_option,
    resolve_config,
    set_option,
)
from hephaestus.monitor.config import MonitorConfig
from hephaestus.platform.errors import HephaestusError, PlatformRuntimeError, one_line

if TYPE_CHECKING:
    from rich.progress import TaskID

    from hephaestus.monitor.watch import Watcher
    from hephaestus.platform.layout import MonitorFiles


def monitor(
    sources: str = typer.Argument(
        ...,
        help="SOURCES folder or bucket prefix to watch (licsar/, era5/, annotations/)",
        callback=normalise_url,
    ),
    store: str = typer.Argument(
        ..., help="store URL the cubes, catalog and monitor/ tables live in", callback=normalise_url
    ),
    checkpoint: list[str] = typer.Option(
        None,
        "--checkpoint",
        help="trained checkpoint or run folder: a classifier (score) and/or a segmenter (mask); repeat for both",
        callback=normalise_url,
    ),
    every: str | None = typer.Option(
        None, "--every", help="keep watching: a cycle every DURATION (90s, 15m, 6h, 1d)"
    ),
    cycles: int | None = typer.Option(None, "--cycles", min=1, help=field_help(MonitorConfig, "cycles")),
    score_threshold: float | None = typer.Option(
        None,
        "--score-threshold",
        min=0.0,
        max=1.0,
        help="alert at this score or more (default: the checkpoint's calibrated threshold, else 0.5)",
    ),
    persistence: int | None = typer.Option(
        None, "--persistence", min=1, help=field_help(MonitorConfig, "persistence")
    ),
    since: str | None = typer.Option(
        None, "--since", metavar="DATE", help=field_help(MonitorConfig, "since")
    ),
    min_area: float | None = typer.Option(
        None,
        "--min-area-km2",
        min=0.0,
        help="alert only for a deformed area of this many km2 or more (default 0.05)",
    ),
    volcanoes: str | None = typer.Option(
        None,
        "--volcanoes",
        help=field_help(MonitorConfig, "volcanoes"),
        callback=normalise_url,
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help=field_help(MonitorConfig, "workers")),
    address: str | None = typer.Option(None, "--address", help=field_help(MonitorConfig, "address")),
    dashboard: str | None = typer.Option(
        None,
        "--dashboard",
        metavar="SITE",
        help="after each cycle, publish a new version of the static site at SITE as `hmc dashboard STORE "
        "--out SITE` does (incremental: only changed images are drawn)",
        callback=normalise_url,
    ),
    config: Path | None = config_option("MonitorConfig"),
    sets: list[str] | None = set_option(),
    print_config: bool = print_config_option(),
) -> None:
    """Discover new products, ingest, update the catalog, score each new pair, raise alerts on pairs
    acquired from the start date on, and update the unrest episodes (STORE/monitor/: scores.parquet,
    alerts.parquet, alerts.geojson, episodes.parquet, episodes.geojson; docs/monitoring.md)."""
    thresholds = {k: v for k, v in (("score", score_threshold), ("min_area_km2", min_area)) if v is not None}
    cfg = resolve_config(
        MonitorConfig,
        config,
        sets,
        sources=sources,
        store=store,
        checkpoints=tuple(checkpoint) if checkpoint else None,
        thresholds=thresholds or None,
        threshold_from="config" if score_threshold is not None else None,
        persistence=persistence,
        since=since,
        every=every,
        cycles=cycles,
        volcanoes=volcanoes,
        workers=workers,
        address=address,
    )
    if any(s.replace(" ", "").startswith("thresholds.score=") for s in sets or ()) and not any(
        s.lstrip().startswith("threshold_from") for s in sets or ()
    ):  # a score stated with --set means that score, as in a YAML file
        cfg = cfg.model_copy(update={"threshold_from": "config"})
    maybe_print(cfg, print_config)
    watch(cfg, dashboard)


def watch(cfg: MonitorConfig, dashboard: str | None = None) -> None:
    """Run monitoring cycles (once, or every `cfg.every`) and print what each did: what `hmc monitor`
    runs once its configuration is resolved. A failed frame fails a single cycle; a watch goes on.

    One warm process (monitor/watch.py): the checkpoints load (and are checked to be one of each task)
    before a cycle ingests anything and are kept until a checkpoint file changes; with `every`, one Ray
    session serves every cycle's ingest. `dashboard`: a site updated after each cycle."""
    from hephaestus.monitor.watch import Watcher
    from hephaestus.platform import storage
    from hephaestus.platform.layout import StoreLayout

    files = StoreLayout(cfg.store).monitor
    storage.check_url(cfg.store, "output")  # a store in a bucket that does not exist: refused, never created
    after = None
    if dashboard is not None:
        from hephaestus.cli.dashboard import write_dashboard

        storage.check_url(dashboard, "output")

        def after(_report: object) -> None:
            write_dashboard(cfg.store, dashboard, cfg.volcanoes)

    with Watcher(cfg, after=after, keep_ray=cfg.every is not None) as watcher:
        _cycles(cfg, watcher, files)
    typer.echo(f"scores: {storage.redact(files.scores)}")
    typer.echo(f"alerts: {storage.redact(files.alerts)} and {storage.redact(files.alerts_geojson)}")
    typer.echo(f"episodes: {storage.redact(files.episodes)} and {storage.redact(files.episodes_geojson)}")


def _cycles(cfg: MonitorConfig, watcher: Watcher, files: MonitorFiles) -> None:
    """The watch loop: a cycle, its lines, a sleep until the next."""
    from hephaestus.monitor.cycle import MonitorCycleError
    from hephaestus.platform import storage

    done = 0
    while True:
        try:
            with _cycle_progress(watcher):
                report = watcher.cycle()
        except HephaestusError as exc:
            if cfg.every is None or not isinstance(exc, PlatformRuntimeError):
                raise
            typer.echo(f"error: cycle failed: {one_line(exc)}; next cycle in {cfg.every:.0f} s", err=True)
        else:
            typer.echo(report.line())
            for frame, why in report.frames_failed.items():
                typer.echo(f"error: frame {frame} was not ingested: {why}", err=True)
            for pair, why in report.skipped.items():
                typer.echo(f"warning: pair {pair} not scored (next cycle retries it): {why}", err=True)
            if cfg.every is None and report.frames_failed:
                typer.echo(f"alerts: {storage.redact(files.alerts)}")
                raise MonitorCycleError(
                    f"{len(report.frames_failed)} frames failed to ingest; run again to retry them"
                )
        done += 1
        if cfg.every is None or (cfg.cycles is not None and done >= cfg.cycles):
            break
        time.sleep(cfg.every)


@contextmanager
def _cycle_progress(watcher: Watcher) -> Iterator[None]:
    """Progress bars of one cycle (the platform's, transient): one a step that reports how far it is
    (ingest tasks, catalog pairs scanned, pairs scored), shown from its first report on. None under a
    live display of the caller's (`hmc demo`'s), which rich allows only one of."""
    from rich.errors import LiveError

    from hephaestus.cli.progress import progress_bar

    words = {"ingest": "ingest tasks", "catalog": "catalog pairs", "score": "pairs scored"}
    bar = progress_bar(transient=True)
    try:
        bar.start()
    except LiveError:
        yield
        return
    tasks: dict[str, TaskID] = {}

    def progress(step: str, done: int, total: int) -> None:
        if step not in tasks:
            tasks[step] = bar.add_task(words.get(step, step), total=total)
        bar.update(tasks[step], completed=done, total=total)

    watcher.progress = progress
    try:
        yield
    finally:
        watcher.progress = None
        bar.stop()


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
