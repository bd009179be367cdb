"""One monitoring cycle: new products in, scores and alerts out, restartable at any point.

A cycle discovers the products under the sources (ingest's discovery), ingests them into the store (the
ingest stage, which grows the cubes), updates the catalog (the catalog stage), then scores every pair no
earlier cycle scored with the checkpoints and raises alerts (`Scorer`, `Journal`). This module is the
one place the stages are tied together for monitoring; `hmc monitor` only repeats it. The tables and
the journal are under STORE/monitor/ (platform/layout.py); a killed cycle is finished by the next run
without losing or repeating a row (monitor/journal.py says how).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from hephaestus import catalog, ingest
from hephaestus.monitor.config import MonitorConfig
from hephaestus.monitor.journal import Journal
from hephaestus.monitor.score import Scorer, new_pairs
from hephaestus.platform import storage
from hephaestus.platform.cube import CubeUnreadableError
from hephaestus.platform.errors import PlatformRuntimeError
from hephaestus.platform.layout import StoreLayout
from hephaestus.platform.locks import store_lock
from hephaestus.train.predict import PredictError


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


def run_cycle(cfg: MonitorConfig) -> CycleReport:
    """One monitoring cycle over `cfg`; restartable at any point (see the journal)."""

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
