"""One monitoring cycle: new products in, scores and alerts out, restartable at any point.

A cycle discovers the products under the sources (ingest's discovery), ingests those the store lacks (the
ingest stage, which grows the cubes), updates the catalog (the catalog stage), then scores every pair no
earlier cycle scored with the checkpoints and raises alerts (`Scorer`, `Journal`), and recomputes the
unrest episodes (monitor/episodes.py). This module is the one place the stages are tied together for
monitoring; `hmc monitor` only repeats it. The tables and the journal are under STORE/monitor/
(platform/layout.py); a killed cycle is finished by the next run without losing or repeating a row
(monitor/journal.py says how).

The first cycle over a store scores its whole history, for the timelines, and alerts on none of it: only
pairs acquired on or after the start date (`--since`, by default the day after the checkpoints' training
data), outside the checkpoints' training pairs and usable may alert (monitor/baseline.py). The report
counts what is new in this cycle: products the store did not hold, pairs first scored and alerts first
raised in this cycle (a resumed cycle counts what its killed run did too).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc

from hephaestus import catalog, ingest
from hephaestus.monitor.baseline import BLOCK_REASONS, Baseline
from hephaestus.monitor.config import MonitorConfig
from hephaestus.monitor.episodes import episodes
from hephaestus.monitor.journal import Journal
from hephaestus.monitor.persistence import ScoredPair, support
from hephaestus.monitor.score import Scorer, new_pairs
from hephaestus.platform import storage
from hephaestus.platform.cube import CubeUnreadableError
from hephaestus.platform.errors import PlatformRuntimeError
from hephaestus.platform.layout import StoreLayout
from hephaestus.platform.locks import store_lock
from hephaestus.platform.pairs import pair_name
from hephaestus.train.frame_score import FrameModels
from hephaestus.train.predict import PredictError


class MonitorCycleError(PlatformRuntimeError):
    """A cycle could not finish (a frame failed to ingest): named, retried by the next cycle."""


@dataclass
class CycleReport:
    cycle: int
    products: int = 0  # products under the sources
    new_products: int = 0  # of which the store held none before this cycle
    ingested: bool = False
    catalogued: bool = False
    scored: int = 0  # pairs first scored in this cycle
    alerts: int = 0  # alerts first raised in this cycle
    blocked: dict[str, int] = field(default_factory=dict)  # alert_blocked -> pairs scored this cycle
    since: str | None = None  # the start date's phrase (Baseline.describe; None: nothing scored)
    episodes: dict[str, int] = field(default_factory=dict)  # status -> episodes after this cycle
    frames_failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # pair -> why it could not be scored
    threshold: float | None = None  # the score threshold the cycle alerted at (None: nothing scored)
    threshold_source: str | None = None  # "checkpoint" (calibrated), "config" or "default" (0.5)
    persistence: int = 1

    def line(self) -> str:
        steps = []
        if self.ingested:
            steps.append(f"{self.new_products} new products ingested, catalog updated")
        else:
            steps.append(f"no new products ({self.products} known)")
        held = ", ".join(f"{n} {BLOCKED_WORDS[k]}" for k, n in self.blocked.items() if n)
        steps.append(
            f"{self.scored} pairs scored"
            + (f" ({held}: never alerted)" if held else "")
            + f", {self.alerts} new alerts"
        )
        if self.since is not None:
            steps.append(self.since)
        if self.episodes:
            steps.append("episodes: " + ", ".join(f"{n} {k}" for k, n in self.episodes.items()))
        if self.threshold is not None:
            rule = f", {self.persistence} overlapping pairs" if self.persistence > 1 else ""
            steps.append(f"score threshold {self.threshold:.6g} ({self.threshold_source}{rule})")
        return f"cycle {self.cycle}: " + "; ".join(steps)


BLOCKED_WORDS: Mapping[str, str] = {
    "before_since": "before the start date",
    "training_pair": "training pairs",
    "unusable": "unusable",
}
"""How the summary line names each `alert_blocked` value (monitor/baseline.py)."""


CycleProgress = Callable[[str, int, int], None]
"""(step, done, total) as a cycle goes: "ingest" (tasks), "catalog" (pairs scanned), "score" (pairs)."""


class StepClock:
    """Seconds a cycle spends in each step (`STEPS`), summed when a step runs more than once: what the
    watcher and the latency benchmark report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def detail(self, step: str, parts: Mapping[str, float]) -> None:
        """Record where a step's time went, as "STEP.PART" (not summed into the step's own seconds)."""
        for part, seconds in parts.items():
            self.seconds[f"{step}.{part}"] = self.seconds.get(f"{step}.{part}", 0.0) + seconds


STEPS: tuple[str, ...] = ("discover", "ingest", "catalog", "score", "tables", "episodes")
"""The steps of a cycle as `StepClock` names them, in order."""


def run_cycle(
    cfg: MonitorConfig,
    *,
    models: FrameModels | None = None,
    baseline: Baseline | None = None,
    clock: StepClock | None = None,
    progress: CycleProgress | None = None,
) -> CycleReport:
    """One monitoring cycle over `cfg`; restartable at any point (see the journal).

    A warm watcher (monitor/watch.py) passes what it keeps between cycles: the loaded `models` and the
    checkpoints' `baseline` (else both are read from `cfg.checkpoints` when a pair is to be scored);
    it runs cycles inside its Ray session, which the ingest then joins instead of starting one. `clock`
    collects the seconds of each step; `progress` hears how far the long steps are.
    """

    clock = clock or StepClock()
    layout = StoreLayout(cfg.store)
    journal = Journal(layout.monitor)
    with store_lock(cfg.store, "monitor"):
        with clock.step("tables"):
            report = CycleReport(journal.begin())
            journal.fold()  # results a killed run left behind reach the tables first
        with clock.step("discover"):
            icfg = ingest.IngestConfig(
                sources=cfg.sources, out=cfg.store, workers=cfg.workers, address=cfg.address
            )
            products = ingest.discover_products(icfg)
            has_catalog = storage.exists(layout.pointer)
            pairs = catalog.read_pairs(cfg.store).to_pylist() if has_catalog else []
            fresh = products - journal.ingested()
            if fresh:  # a store ingested before it was monitored holds them
                fresh -= _catalog_products(pairs)
        report.products, report.new_products = len(products), len(fresh)
        if products and (fresh or not has_catalog):
            with clock.step("ingest"):
                tell = None if progress is None else (lambda d, t: progress("ingest", d, t))
                summary = ingest.run_ingest(icfg, progress=tell)
                clock.detail("ingest", summary.driver_seconds)  # the driver's plan and publish
                clock.detail("ingest.frames", summary.frame_seconds)  # frame tasks, summed
                report.ingested, report.frames_failed = True, dict(summary.frames_failed)
                journal.phase(report.cycle, "ingested", new_products=len(fresh))
            with clock.step("catalog"):
                # an update keeps the series length the store's catalog was built with
                length = catalog.read_series_length(cfg.store) if has_catalog else None
                settings = catalog.CatalogConfig(series_length=length) if length else catalog.CatalogConfig()
                scan = None if progress is None else (lambda _c, d, t: progress("catalog", d, t))
                catalog.build_catalog(cfg.store, settings, progress=scan)
                report.catalogued = has_catalog = True
                if summary.ok:  # a failed frame is retried by the next cycle
                    journal.mark_ingested(products)
                journal.phase(report.cycle, "catalogued")
                pairs = catalog.read_pairs(cfg.store).to_pylist()
        todo = new_pairs(pairs, journal.done()) if has_catalog else []
        scorer = Scorer(cfg, models) if todo else None
        rule: dict[str, Any] = {}
        if scorer is not None:
            baseline = baseline or Baseline.of_checkpoints(cfg.since, cfg.checkpoints)
            report.threshold, report.threshold_source = scorer.threshold, scorer.threshold_source
            report.persistence, report.since = cfg.persistence, baseline.describe()
            rule = {
                "threshold": scorer.threshold, "threshold_source": scorer.threshold_source,
                "persistence": cfg.persistence, "since": baseline.since, "since_source": baseline.since_source,
            }  # fmt: skip
        journal.phase(report.cycle, "scoring", to_score=len(todo), **rule)
        if scorer is not None:
            assert baseline is not None
            known = _known(journal, scorer.threshold) if cfg.persistence > 1 else []
            # rows are stamped no earlier than the cycle's start (what "opened in this cycle" compares)
            now = max(dt.datetime.now(dt.UTC).replace(microsecond=0), journal.started())
            done = 0
            for k, group in enumerate(_acquisitions(todo, cfg.persistence), start=1):
                assessed = []
                with clock.step("score"):
                    for pair in group:
                        try:
                            scored = scorer.assess(pair, now)
                        except (
                            PredictError,
                            CubeUnreadableError,
                        ) as exc:  # this pair only; the next cycle retries it
                            name = f"{pair['frame_id']} {pair['primary_date']}_{pair['secondary_date']}"
                            report.skipped[name] = str(exc)
                        else:
                            assessed.append(_gate(scored, baseline.blocked(pair), report.cycle))
                    for row, alert in _persist(assessed, known, scorer.threshold, cfg.persistence):
                        journal.record(row, alert)
                done += len(group)
                if progress is not None:
                    progress("score", done, len(todo))
                if k % cfg.fold_every == 0:
                    with clock.step("tables"):
                        journal.fold()
        with clock.step("tables"):
            journal.fold()
            _count(journal, report)
        with clock.step("episodes"):
            journal.phase(report.cycle, "episodes", scored=report.scored, alerts=report.alerts)
            table = episodes(journal.alerts(), journal.scores(), latest_cycle=journal.started())
            journal.write_episodes(table)
            report.episodes = dict(sorted(Counter(table.column("status").to_pylist()).items()))
        journal.phase(
            report.cycle, "done", scored=report.scored, alerts=report.alerts, episodes=report.episodes
        )
    return report


def _catalog_products(pairs: list[Mapping[str, Any]]) -> set[str]:
    """The catalog's pairs with a product, named as discovery names products (FRAME/PRIMARY_SECONDARY)."""
    return {
        f"{p['frame_id']}/{pair_name(p['primary_date'], p['secondary_date'])}"
        for p in pairs
        if p.get("has_product")
    }


def _gate(
    scored: tuple[dict[str, Any], dict[str, Any] | None], blocked: str | None, cycle: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A scored pair with the baseline applied (a blocked pair keeps its row, loses its alert) and the
    cycle recorded on both rows."""
    row, alert = scored
    row = {**row, "alert_blocked": blocked, "cycle": cycle}
    if blocked is not None or alert is None:
        return {**row, "alert": False}, None
    return row, {**alert, "cycle": cycle}


def _count(journal: Journal, report: CycleReport) -> None:
    """The report's counts from the tables: rows of this cycle (a resumed cycle's killed run included)."""
    scores = journal.scores().filter(pc.equal(pc.field("cycle"), report.cycle))
    report.scored = scores.num_rows
    report.alerts = journal.alerts().filter(pc.equal(pc.field("cycle"), report.cycle)).num_rows
    reasons = Counter(r for r in scores.column("alert_blocked").to_pylist() if r is not None)
    report.blocked = {k: reasons[k] for k in BLOCK_REASONS if reasons[k]}


def _acquisitions(todo: list[Mapping[str, Any]], k: int) -> list[list[Mapping[str, Any]]]:
    """`todo` (oldest first) in groups of one frame and secondary date: the persistence rule decides a
    group's alerts together, since its pairs count for each other (k = 1: one pair a group)."""
    if k == 1:
        return [[pair] for pair in todo]
    groups: dict[tuple[str, Any], list[Mapping[str, Any]]] = {}
    for pair in todo:
        groups.setdefault((str(pair["frame_id"]), pair["secondary_date"]), []).append(pair)
    return list(groups.values())


def _known(journal: Journal, threshold: float) -> list[ScoredPair]:
    """The pairs earlier cycles scored, as the persistence rule sees them at this threshold."""
    rows = journal.scores().select(["frame_id", "primary_date", "secondary_date", "score"]).to_pylist()
    return [
        ScoredPair(r["frame_id"], r["primary_date"], r["secondary_date"], float(r["score"]) >= threshold)
        for r in rows
    ]


def _persist(
    assessed: list[tuple[dict[str, Any], dict[str, Any] | None]],
    known: list[ScoredPair],
    threshold: float,
    k: int,
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """One acquisition's scored pairs with the persistence rule applied (k = 1: as scored); `known`
    grows by them."""
    if k == 1:
        return assessed
    mine = [
        ScoredPair(r["frame_id"], r["primary_date"], r["secondary_date"], r["score"] >= threshold)
        for r, _ in assessed
    ]
    known.extend(mine)
    out = []
    for (row, alert), pair in zip(assessed, mine, strict=True):
        if alert is not None and support(pair, known) < k:
            row, alert = {**row, "alert": False}, None
        out.append((row, alert))
    return out
