"""The benchmark grid: every run a Ray Tune trial that drives its own Ray Train run on the shared cluster.

A finished run leaves `RESULTS/runs/<run_id>.json` (written atomically) and a row in
`RESULTS/results.parquet`; a re-run skips those runs, so an interrupted grid continues where it
stopped and a finished one trains nothing. The summary tables and figure are rebuilt from all rows.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from ray.tune import Callback

from hephaestus.platform import errors, signals, storage
from hephaestus.platform.errors import one_line, root_cause
from hephaestus.platform.inputs import step_channels
from hephaestus.platform.layout import ResultsLayout
from hephaestus.platform.ray_session import ray_session
from hephaestus.train.config import PAPER_NAMES, GridConfig, RunConfig, grid_preset
from hephaestus.train.sources import CatalogSource, DataSource
from hephaestus.train.summary import STD_NOTE, aggregate, comparison_figure, paper_table, to_markdown

log = logging.getLogger(__name__)

TABLES = {"classification": "table3_classification", "segmentation": "table4_segmentation"}
TABLE_TITLES = {
    "classification": "Table 3: deformation classification (test, mean ± sample std over seeds, %)",
    "segmentation": "Table 4: deformation segmentation (test, mean ± sample std over seeds, %)",
}
FIGURE_FILE = "comparison.png"
"""The comparison figure's name under the results URL (`ResultsLayout.summary`)."""

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class BenchmarkSummary:
    """What a benchmark call did and where its results are."""

    out: str
    planned: list[str]
    skipped: list[str]
    trained: list[str]
    failed: dict[str, str]
    results: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: float = 0.0
    not_run: list[str] = field(default_factory=list)
    """Planned runs that neither finished nor failed (an interrupt stopped the grid first)."""

    def counts(self) -> str:
        """What the grid did, counted from the recorded results only: "trained 2, skipped 2, failed 0"
        (and ", not run 4 (interrupted)" when some runs never ran)."""
        text = f"trained {len(self.trained)}, skipped {len(self.skipped)}, failed {len(self.failed)}"
        return text + (f", not run {len(self.not_run)} (interrupted)" if self.not_run else "")


SUMMARY_ATTR = "hmc_benchmark_summary"
"""The attribute of the KeyboardInterrupt that stopped a grid holding its `BenchmarkSummary` (what was
recorded by then; a re-run resumes from it): `partial_summary(exc)` reads it."""


def partial_summary(exc: BaseException) -> BenchmarkSummary | None:
    """The summary an interrupted `run_benchmark` left on its KeyboardInterrupt, if any."""
    summary = getattr(exc, SUMMARY_ATTR, None)
    return summary if isinstance(summary, BenchmarkSummary) else None


def finished_runs(out: str) -> set[str]:
    """Run ids with results: rows of results.parquet and per-run records."""
    done: set[str] = set()
    table = read_results(out)
    if not table.empty:
        done.update(table["run_id"].astype(str))
    loc = storage.location(ResultsLayout(out).runs)
    if loc.fs.exists(loc.path):
        for path in loc.fs.ls(loc.path, detail=False):
            name = path.rsplit("/", 1)[-1]
            if name.endswith(".json"):
                done.add(name[: -len(".json")])
    return done


def read_results(out: str) -> pd.DataFrame:
    url = ResultsLayout(out).results_table
    if not storage.exists(url):
        return pd.DataFrame()
    return pq.read_table(io.BytesIO(storage.read_bytes(url))).to_pandas()


def _run_records(out: str) -> list[dict[str, Any]]:
    loc = storage.location(ResultsLayout(out).runs)
    if not loc.fs.exists(loc.path):
        return []
    rows = []
    for path in sorted(loc.fs.ls(loc.path, detail=False)):
        if path.endswith(".json"):
            with loc.fs.open(path, "rb") as fh:
                rows.append(json.loads(fh.read()))
    return rows


def write_results(out: str) -> pd.DataFrame:
    """Rebuild results.parquet from the per-run records (and rows only the old table holds)."""
    records = pd.DataFrame(_run_records(out))
    old = read_results(out)
    if not old.empty and not records.empty:
        records = pd.concat([old[~old["run_id"].isin(records["run_id"])], records], ignore_index=True)
    elif records.empty:
        records = old
    if records.empty:
        return records
    records = records.sort_values("run_id").reset_index(drop=True)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(records, preserve_index=False), sink)
    storage.write_bytes(ResultsLayout(out).results_table, sink.getvalue().to_pybytes())
    return records


def write_summary(out: str, results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tables 3 and 4 (markdown and CSV) and the comparison figure under `out`."""
    tables: dict[str, pd.DataFrame] = {}
    if results.empty:
        return tables
    for task, stem in TABLES.items():
        agg = aggregate(results, task)
        if agg.empty:
            continue
        tables[task] = paper_table(agg, task)
        marked = paper_table(agg, task, markdown=True)  # best bold, second underlined, as the paper
        storage.write_text_atomic(
            ResultsLayout(out).summary(f"{stem}.md"), to_markdown(marked, TABLE_TITLES[task], STD_NOTE)
        )
        storage.write_text_atomic(ResultsLayout(out).summary(f"{stem}.csv"), agg.to_csv(index=False))
    fig = comparison_figure(results)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    storage.write_bytes(ResultsLayout(out).summary(FIGURE_FILE), buf.getvalue())
    return tables


def planned_in_channels(run: RunConfig) -> int:
    """Input channels of a run: 3 (no atmosphere) or 9 per step, times the series length for series."""
    return run.steps * len(step_channels(run.atmosphere))


def plan(grid: GridConfig, out: str | None = None) -> list[dict[str, Any]]:
    """One flat record per planned run: what it will train, with what, and whether it is already done.

    What `hmc benchmark --dry-run` prints, so a 96-run sweep can be checked before paying for it.
    """
    from hephaestus.train.models import WeightsError, count_parameters, resolve_weights

    done = finished_runs(storage.normalize(out)) if out else set()
    params: dict[tuple[str, int, str], int] = {}
    files: dict[tuple[str, str, str | None, str], str | None] = {}
    rows = []
    for run in grid.runs():
        channels = planned_in_channels(run)
        key = (run.model, channels, run.encoder)
        if key not in params:
            params[key] = count_parameters(run.model, channels, run.encoder)
        wkey = (run.model, run.weights, run.weights_dir, run.encoder)
        if wkey not in files:
            try:
                _, path = resolve_weights(run.model, run.weights, run.weights_dir, run.encoder)
                files[wkey] = None if path is None else str(path)
            except WeightsError:
                files[wkey] = "MISSING"
        focal = run.loss_name == "focal"
        rows.append(
            {
                "run_id": run.run_id,
                "model": run.model,
                "paper_name": PAPER_NAMES.get(run.model, run.model),
                "task": run.task,
                "series": run.series,
                "atmosphere": run.atmosphere,
                "seed": run.seed,
                "params": params[key],
                "in_channels": channels,
                "encoder": run.encoder if run.task == "segmentation" else None,
                "loss": run.loss_name,
                "focal_deformation_weight": run.focal_deformation_weight if focal else None,
                "focal_gamma": run.focal_gamma if focal else None,
                "weights": run.weights,
                "weights_file": files[wkey],
                "statistics": run.statistics,
                "crop_size": run.crop_size,
                "max_offset": run.max_offset,
                "augment": run.augment,
                "undersample": run.undersample,
                "batch_size": run.batch_size,
                "optimizer": "AdamW",
                "lr": run.learning_rate,
                "recipe": run.recorded()["recipe"],
                "weight_decay": run.weight_decay,
                "epochs": run.epochs,
                "precision": "bf16 autocast on CUDA, fp32 on CPU" if run.amp else "fp32",
                "workers": list(run.workers) if isinstance(run.workers, tuple) else run.workers,
                "status": "done" if run.run_id in done else "pending",
            }
        )
    return rows


def _trial_fn(store_url: str, out: str, source: DataSource) -> Callable[[dict[str, Any]], None]:
    """The Tune trial: one Ray Train run, then its record beside the results."""

    def trial(config: dict[str, Any]) -> None:
        from ray import tune

        from hephaestus.train.trainer import train_run

        run = RunConfig(**config["trial"]["run"])
        result = train_run(run, store_url, out, source=source)
        record = json.dumps(result.row(), sort_keys=True, default=str)
        storage.write_text_atomic(ResultsLayout(out).run_record(run.run_id), record)
        tune.report({k: v for k, v in result.metrics.items() if k.startswith("test_")} | {"finished": 1})

    return trial


def _default_concurrency(runs: list[RunConfig]) -> int:
    import ray

    cpus = ray.cluster_resources().get("CPU", 1.0)
    need = max(
        (r.workers[1] if isinstance(r.workers, tuple) else r.workers) * r.cpus_per_worker for r in runs
    )
    return max(1, int(cpus // need))


class _Progress(Callback):
    """Reports trial starts and ends to `on_event`; pickled by Tune without it (it may hold locks)."""

    def __init__(self, on_event: Event | None, total: int) -> None:
        self.done = 0
        self.total = total
        self.on_event = on_event

    def __getstate__(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "on_event": None}

    def _emit(self, kind: str, trial: Any, **extra: Any) -> None:
        if self.on_event is not None:
            self.on_event(kind, {"run_id": trial.config["trial"]["run_id"], "total": self.total, **extra})

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._emit("start", trial)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.done += 1
        metrics = {k: v for k, v in (trial.last_result or {}).items() if k.startswith("test_")}
        self._emit("done", trial, n=self.done, **metrics)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.done += 1
        self._emit("error", trial, n=self.done)


def run_benchmark(
    store_url: str,
    grid: GridConfig | str = "smoke",
    out: str = "results",
    *,
    address: str | None = None,
    max_concurrent: int | None = None,
    source: DataSource | None = None,
    on_event: Event | None = None,
) -> BenchmarkSummary:
    """Run every unfinished run of `grid` as Ray Tune trials sharing the cluster, then write the summary.

    `source` defaults to the catalog of `store_url`. Runs with results under `out` are skipped.
    """
    from ray import tune

    t0 = time.perf_counter()
    grid = grid_preset(grid) if isinstance(grid, str) else grid
    out = storage.check_url(out, "output")  # one-line errors before Ray (the CLI already made it absolute)
    runs = grid.runs()
    planned = [r.run_id for r in runs]
    done = finished_runs(out)
    pending = [r for r in runs if r.run_id not in done]
    skipped = [r.run_id for r in runs if r.run_id in done]
    if on_event:
        on_event("plan", {"total": len(runs), "pending": len(pending), "skipped": len(skipped)})
        for run_id in skipped:
            on_event("skip", {"run_id": run_id})
    failed: dict[str, str] = {}
    interrupted: KeyboardInterrupt | None = None
    if pending:
        from hephaestus.train.models import require_weights

        require_weights(pending)  # before Ray: missing ImageNet weights fail here, never fall back to random
        if source is None:  # reachable before Ray (library callers: check_url makes it absolute too)
            store_url = storage.check_url(store_url, "source")
            source = CatalogSource(store_url)
        source.check()
        try:
            with ray_session(address=address):
                from hephaestus.train.trainer import ray_storage

                signals.reinstall()  # ray.init replaced the CLI's SIGTERM handler
                # Tune's own SIGINT handler would end the grid as if it had finished: let it arrive as one
                os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
                concurrency = max_concurrent or _default_concurrency(pending)
                path, fs = ray_storage(ResultsLayout(out).tune)
                trainable = tune.with_resources(_trial_fn(store_url, out, source), {"CPU": 0.01})
                tuner = tune.Tuner(
                    trainable,
                    param_space={
                        "trial": tune.grid_search(
                            [{"run_id": r.run_id, "run": r.model_dump(mode="json")} for r in pending]
                        )
                    },
                    tune_config=tune.TuneConfig(max_concurrent_trials=concurrency),
                    run_config=tune.RunConfig(
                        name=f"grid-{grid.name}-{int(time.time())}",
                        storage_path=path,
                        storage_filesystem=fs,
                        callbacks=[_Progress(on_event, len(pending))],
                        verbose=0,
                    ),
                )
                for result in tuner.fit():
                    if result.error is not None:
                        failed[result.config["trial"]["run_id"]] = _error_line(result.error)
        except KeyboardInterrupt as exc:  # SIGINT / SIGTERM: Ray is shut down; count what was recorded
            interrupted = exc
    # counted from the recorded results, never from what Tune says it ran: a run is trained only when
    # its record exists (a stopped trial reports no error and leaves none)
    recorded = finished_runs(out) if pending else set()
    trained = [r.run_id for r in pending if r.run_id in recorded]
    not_run = [r.run_id for r in pending if r.run_id not in recorded and r.run_id not in failed]
    if interrupted is None:
        for run_id in not_run:  # ended without an error and without a record: not a success either
            failed[run_id] = "ended without recording its result"
        not_run = []
    results = write_results(out)
    tables = write_summary(out, results)
    summary = BenchmarkSummary(
        out=storage.redact(out),
        planned=planned,
        skipped=skipped,
        trained=sorted(trained),
        failed=failed,
        results=results,
        tables=tables,
        seconds=time.perf_counter() - t0,
        not_run=not_run,
    )
    if interrupted is not None:  # the interrupt goes on (its signal kept), carrying what was recorded
        stop = errors.interrupted(errors.signal_of(interrupted), f"grid interrupted: {summary.counts()}")
        setattr(stop, SUMMARY_ATTR, summary)
        raise stop from interrupted
    return summary


def _error_line(error: BaseException) -> str:
    """A failed run's error as one line: the root cause inside Ray's wrappers, URLs redacted."""
    cause = root_cause(error)
    return f"{type(cause).__name__}: {one_line(cause)}"
