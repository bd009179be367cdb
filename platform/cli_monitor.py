"""`hmc monitor`: watch sources for new interferograms and turn each new pair into a score, maybe an alert.

One cycle: discover the products under SOURCES (ingest's discovery) -> ingest them into STORE (the
ingest stage, which grows the cubes) -> update the catalog (the catalog stage) -> score every pair
no earlier cycle scored with the checkpoints and raise alerts (train.monitor). Only this command
module ties the stages together; the logic lives in them. The tables and the journal are under
STORE/monitor/ (platform/layout.py); a killed cycle is finished by the next run without losing or
repeating a row (train/monitor/journal.py says how).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import typer

from hephaestus.platform.cli_common import config_option, maybe_print, normalise_url, print_config_option
from hephaestus.platform.config import resolve
from hephaestus.platform.errors import HephaestusError, PlatformRuntimeError


class MonitorCycleError(PlatformRuntimeError):
    """A cycle could not finish (a frame failed to ingest): named, retried by the next cycle."""


@dataclass
class CycleReport:
    cycle: int
    products: int = 0
    new_products: int = 0
    ingested: bool = False
    catalogued: bool = False
    scored: int = 0
    alerts: int = 0
    frames_failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # pair -> why it could not be scored

    def line(self) -> str:
        steps = []
        if self.ingested:
            steps.append(f"{self.new_products} new products ingested, catalog updated")
        else:
            steps.append(f"no new products ({self.products} known)")
        steps.append(f"{self.scored} pairs scored, {self.alerts} new alerts")
        return f"cycle {self.cycle}: " + "; ".join(steps)


def run_cycle(cfg) -> CycleReport:  # type: ignore[no-untyped-def]
    """One monitoring cycle over `cfg` (a MonitorConfig); restartable at any point (see the journal)."""
    from hephaestus import catalog, ingest
    from hephaestus.platform import storage
    from hephaestus.platform.cube import CubeUnreadableError
    from hephaestus.platform.layout import StoreLayout
    from hephaestus.platform.locks import store_lock
    from hephaestus.train.monitor.journal import Journal
    from hephaestus.train.monitor.score import Scorer, new_pairs
    from hephaestus.train.predict import PredictError

    layout = StoreLayout(cfg.store)
    journal = Journal(layout.monitor)
    with store_lock(cfg.store, "monitor"):
        report = CycleReport(journal.begin())
        journal.fold()  # results a killed run left behind reach the tables first
        icfg = ingest.IngestConfig(
            sources=cfg.sources, out=cfg.store, workers=cfg.workers, address=cfg.address
        )
        products = ingest.discover_products(icfg)
        fresh = products - journal.ingested()
        report.products, report.new_products = len(products), len(fresh)
        has_catalog = storage.exists(layout.pointer)
        if products and (fresh or not has_catalog):
            summary = ingest.run_ingest(icfg)
            report.ingested, report.frames_failed = True, dict(summary.frames_failed)
            journal.phase(report.cycle, "ingested", new_products=len(fresh))
            # an update keeps the series length the store's catalog was built with
            length = catalog.read_series_length(cfg.store) if has_catalog else None
            settings = catalog.CatalogConfig(series_length=length) if length else catalog.CatalogConfig()
            catalog.build_catalog(cfg.store, settings)
            report.catalogued = has_catalog = True
            if summary.ok:  # a failed frame is retried by the next cycle
                journal.mark_ingested(products)
            journal.phase(report.cycle, "catalogued")
        todo = new_pairs(catalog.read_pairs(cfg.store).to_pylist(), journal.done()) if has_catalog else []
        journal.phase(report.cycle, "scoring", to_score=len(todo))
        if todo:
            scorer = Scorer(cfg)
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            for k, pair in enumerate(todo, start=1):
                try:
                    journal.record(*scorer.assess(pair, now))
                except (
                    PredictError,
                    CubeUnreadableError,
                ) as exc:  # this pair only; the next cycle retries it
                    report.skipped[f"{pair['frame_id']} {pair['primary_date']}_{pair['secondary_date']}"] = (
                        str(exc)
                    )
                    continue
                report.scored += 1
                if k % cfg.fold_every == 0:
                    report.alerts += journal.fold()[1]
        report.alerts += journal.fold()[1]
        journal.phase(report.cycle, "done", scored=report.scored, alerts=report.alerts)
    return report


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
    cycles: int | None = typer.Option(None, "--cycles", min=1, help="with --every: stop after N cycles"),
    score_threshold: float | None = typer.Option(
        None, "--score-threshold", min=0.0, max=1.0, help="alert at this score or more (default 0.5)"
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
        help="GVP volcano table (CSV; default: the platform's copy)",
        callback=normalise_url,
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="ingest: local Ray CPUs / tasks in flight"
    ),
    address: str | None = typer.Option(
        None, "--address", help="ingest: Ray cluster address (default: local)"
    ),
    config: Path | None = config_option("MonitorConfig"),
    print_config: bool = print_config_option(),
) -> None:
    """Discover new products, ingest, update the catalog, score each new pair and raise alerts
    (STORE/monitor/: scores.parquet, alerts.parquet, alerts.geojson)."""
    from hephaestus.platform import storage
    from hephaestus.platform.layout import StoreLayout
    from hephaestus.train.monitor.config import MonitorConfig

    thresholds = {k: v for k, v in (("score", score_threshold), ("min_area_km2", min_area)) if v is not None}
    cfg = resolve(
        MonitorConfig,
        config,
        sources=sources,
        store=store,
        checkpoints=tuple(checkpoint) if checkpoint else None,
        thresholds=thresholds or None,
        every=every,
        cycles=cycles,
        volcanoes=volcanoes,
        workers=workers,
        address=address,
    )
    maybe_print(cfg, print_config)
    files = StoreLayout(cfg.store).monitor
    done = 0
    while True:
        try:
            report = run_cycle(cfg)
        except HephaestusError as exc:
            if cfg.every is None or not isinstance(exc, PlatformRuntimeError):
                raise
            typer.echo(f"error: cycle failed: {exc}; next cycle in {cfg.every:.0f} s", err=True)
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


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
