"""`hmc monitor`: watch sources for new interferograms and turn each new pair into a score, maybe an alert.

The command repeats one cycle of the monitoring stage (`hephaestus.monitor.cycle.run_cycle`: discover,
ingest, update the catalog, score, alert) once or every DURATION, and prints what each cycle did.
"""

from __future__ import annotations

import time
from pathlib import Path

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
    watch(cfg)


def watch(cfg: MonitorConfig) -> None:
    """Run monitoring cycles (once, or every `cfg.every`) and print what each did: what `hmc monitor`
    runs once its configuration is resolved. A failed frame fails a single cycle; a watch goes on."""
    from hephaestus.monitor.cycle import MonitorCycleError, run_cycle
    from hephaestus.platform import storage
    from hephaestus.platform.layout import StoreLayout

    files = StoreLayout(cfg.store).monitor
    storage.check_url(cfg.store, "output")  # a store in a bucket that does not exist: refused, never created
    if cfg.checkpoints:
        from hephaestus.monitor.baseline import Baseline
        from hephaestus.monitor.score import Scorer

        Scorer(cfg)  # every checkpoint loads (and is one of each task) before a cycle ingests anything
        Baseline.of_checkpoints(cfg.since, cfg.checkpoints)  # and its training record reads
    done = 0
    while True:
        try:
            report = run_cycle(cfg)
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
    typer.echo(f"scores: {storage.redact(files.scores)}")
    typer.echo(f"alerts: {storage.redact(files.alerts)} and {storage.redact(files.alerts_geojson)}")
    typer.echo(f"episodes: {storage.redact(files.episodes)} and {storage.redact(files.episodes_geojson)}")


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
