"""`run_ingest`: plan from the sources, quarantine what planning refused, build and publish the cubes."""

from __future__ import annotations

import logging
import time

from hephaestus.platform import storage
from hephaestus.platform.layout import StoreLayout
from hephaestus.platform.locks import store_lock

from .config import IngestConfig
from .plan import Plan, close_plan, survey_sources
from .quarantine import write as write_quarantine
from .runner import run_survey
from .summary import IngestSummary, Progress

log = logging.getLogger(__name__)


def run_ingest(cfg: IngestConfig, progress: Progress | None = None) -> IngestSummary:
    """Build one cube per annotated frame at `cfg.out/cubes/<FRAME>.zarr`.

    Idempotent: finished cubes and finished task regions are skipped. Refused products go to
    `cfg.out/quarantine/` and the rest goes on.
    """
    t0 = time.perf_counter()
    out = storage.check_url(cfg.out, "output")  # one-line errors before any work, Ray included
    for what, given in (
        ("sources", cfg.sources),
        ("LiCSAR sources", cfg.licsar),
        ("ERA5 sources", cfg.era5),
        ("annotation sources", cfg.annotations),
    ):
        if given:
            storage.check_url(given, "source", what)
    with store_lock(out, "ingest"):  # two ingests into one store: the second stops at once, one line
        return _run(cfg, out, progress, t0)


def _run(cfg: IngestConfig, out: str, progress: Progress | None, t0: float) -> IngestSummary:
    survey = survey_sources(cfg, index_era5=False)  # the runner indexes ERA5 (in tasks when it can)
    plan = survey.plan
    summary = IngestSummary(pairs_without_product=plan.no_product)
    summary.driver_seconds["plan"] = time.perf_counter() - t0
    for rec in plan.quarantine:
        write_quarantine(out, rec)
    summary.quarantined.extend(plan.quarantine)
    summary.pairs_quarantined += sum(1 for r in plan.quarantine if r.kind == "pair")
    # every frame is planned and staged by its own task; their parts of the plan join `plan` as they return
    run_survey(cfg, survey, out, summary=summary, progress=progress)
    close_plan(plan, survey.era5_files)
    for b in plan.builds:
        if b.frame_id not in summary.frames_failed:
            summary.bytes_stored += _stored(out, b.frame_id)
    account_inputs(plan, summary)
    summary.seconds = time.perf_counter() - t0
    log.info("ingest done: %s", summary.as_dict())
    return summary


def input_status(plan: Plan, summary: IngestSummary) -> dict[str, str]:
    """Every listed source file: "ingested", "quarantined" (a record names it) or "ignored" (with reason)."""
    named = {f for r in summary.quarantined for f in r.files}
    status = {}
    for url in plan.inputs:
        if url in plan.ignored:
            status[url] = "ignored"
        elif url in named or any(url.startswith(f.rstrip("/") + "/") for f in named):
            status[url] = "quarantined"
        else:
            status[url] = "ingested"
    return status


def account_inputs(plan: Plan, summary: IngestSummary) -> None:
    """Put the accounting of every input file in the summary (nothing is dropped silently)."""
    status = input_status(plan, summary)
    summary.files_ignored = dict(plan.ignored)
    summary.files = {
        k: sum(1 for v in status.values() if v == k) for k in ("ingested", "quarantined", "ignored")
    }


def _stored(out: str, frame_id: str) -> int:
    from .publish import stored_bytes

    return stored_bytes(StoreLayout(out).cube(frame_id))
