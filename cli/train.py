"""`hmc benchmark`, `hmc train`, `hmc predict`: the training stage's commands (stage imported lazily)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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
from hephaestus.platform.errors import InputError
from hephaestus.platform.storage import check_url
from hephaestus.train.config import GridConfig, RunConfig

WORKERS_HELP = "Ray Train workers per run (fixed count)."
EVERY_RUN = "Overrides every run's."


def _workers(workers: int | None, min_workers: int | None, max_workers: int | None) -> Any:
    """The workers flags as RunConfig.workers: a count, an elastic (min, max), or None (not given)."""
    if (min_workers is None) != (max_workers is None):
        raise InputError("--min-workers and --max-workers go together")
    if min_workers is not None:
        if workers is not None:
            raise InputError("give --workers or --min-workers/--max-workers, not both")
        return (min_workers, max_workers)
    return workers


def _print_tables(tables: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from hephaestus.train.benchmark import TABLE_TITLES

    console = Console(width=None if sys.stdout.isatty() else 160)  # whole tables in logs and pipes
    for task, frame in tables.items():
        table = Table(title=TABLE_TITLES[task])
        for col in frame.columns:
            table.add_column(str(col))
        for row in frame.itertuples(index=False):
            table.add_row(*(str(v) for v in row))
        console.print(table)


def _print_plan(rows: list[dict[str, Any]], fmt: str) -> None:
    """JSON: one object per planned run and line. Table: the same fields as aligned columns."""
    import json

    if fmt == "json":
        for row in rows:
            typer.echo(json.dumps(row))
        return
    if not rows:
        return
    columns = list(rows[0])
    cells = [[("-" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def benchmark(
    store_url: str = typer.Argument(
        ..., help="Store with cubes and a catalog (local path, s3://, gs://).", callback=normalise_url
    ),
    grid: str | None = typer.Option(None, "--grid", help="Grid preset: smoke (default), demo or paper."),
    out: str | None = typer.Option(
        None,
        "--out",
        help="Results URL: results.parquet, tables, figure, checkpoints (not for --dry-run).",
        callback=normalise_url,
    ),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (default: local)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
    min_workers: int | None = typer.Option(None, "--min-workers", min=1, help="Elastic: fewest workers."),
    max_workers: int | None = typer.Option(None, "--max-workers", min=1, help="Elastic: most workers."),
    max_concurrent: int | None = typer.Option(None, "--max-concurrent", min=1, help="Runs at the same time."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Override the grid's epochs."),
    models: str | None = typer.Option(
        None, "--models", help="Comma-separated models instead of the grid's (e.g. convnext_base)."
    ),
    weights: str | None = typer.Option(None, "--weights", help=field_help(RunConfig, "weights", EVERY_RUN)),
    weights_dir: str | None = typer.Option(
        None, "--weights-dir", help=field_help(RunConfig, "weights_dir", EVERY_RUN), callback=normalise_url
    ),
    statistics: str | None = typer.Option(
        None, "--statistics", help=field_help(RunConfig, "statistics", EVERY_RUN)
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print every planned run and its settings; train nothing."
    ),
    fmt: str = typer.Option(
        "table", "--format", help="--dry-run output: table, or json (one object a line)."
    ),
    config: Path | None = config_option("GridConfig, on top of the --grid preset (e.g. base: {epochs: 3})"),
    sets: list[str] | None = set_option(),
    print_config: bool = print_config_option(),
) -> None:
    """Run the benchmark grid (models x single/series x with/without atmosphere x seeds); skip finished runs."""
    from hephaestus.train.benchmark import plan
    from hephaestus.train.config import GRIDS, grid_preset

    if grid is not None and grid not in GRIDS:
        raise InputError(f"--grid: unknown grid {grid!r}; known: {sorted(GRIDS)}")
    runs_workers = _workers(workers, min_workers, max_workers)

    def apply_flags(grid_config: GridConfig) -> GridConfig:
        """The flags given, with the grid's own rules (a --weights covers every model)."""
        return grid_config.with_base(
            epochs=epochs,
            workers=runs_workers,
            weights=weights,
            weights_dir=weights_dir,
            statistics=statistics,
        ).with_models(tuple(m.strip() for m in models.split(",") if m.strip()) if models else None)

    preset = resolve_config(
        GridConfig, config, sets, preset=grid_preset(grid or "smoke").model_dump(), apply_flags=apply_flags
    )
    maybe_print(preset, print_config)
    if dry_run:
        if fmt not in ("table", "json"):
            raise InputError(f"--format must be table or json, not {fmt!r}")
        _print_plan(plan(preset, out), fmt)
        return
    if out is None:
        raise InputError("--out is required (except with --dry-run)")
    train_grid(store_url, preset, out, address=address, max_concurrent=max_concurrent)


def train_grid(
    store_url: str,
    preset: GridConfig,
    out: str,
    *,
    address: str | None = None,
    max_concurrent: int | None = None,
) -> None:
    """Train `preset`'s runs with the live runs board, then the result tables and a summary line: what
    `hmc benchmark` runs once its grid is resolved. Exit 1 if a run failed."""
    from rich.console import Console
    from rich.live import Live

    from hephaestus.cli.progress import RunsBoard
    from hephaestus.platform.ray_session import send_logs_to
    from hephaestus.platform.storage import redact
    from hephaestus.train.benchmark import partial_summary, run_benchmark
    from hephaestus.train.sources import CatalogSource

    source = CatalogSource(store_url)
    source.check()  # a missing catalog is one error line, before any display
    console = Console(width=None if sys.stdout.isatty() else 140)  # whole run ids in logs and pipes
    log_file = send_logs_to(out)
    board = RunsBoard(out, [(r.run_id, r.epochs, r.task) for r in preset.runs()], title=f"grid {preset.name}")

    def on_event(kind: str, info: dict[str, Any]) -> None:
        if kind == "plan":
            console.print(
                f"grid [bold]{preset.name}[/]: {info['total']} runs, {info['skipped']} already done, "
                f"{info['pending']} to train" + (f"; Ray's logs go to {log_file}" if log_file else "")
            )
        board.event(kind, info)

    try:
        with Live(board, console=console, refresh_per_second=1):
            summary = run_benchmark(
                store_url, preset, out, address=address, max_concurrent=max_concurrent, on_event=on_event
            )
    except KeyboardInterrupt as stop:  # SIGINT / SIGTERM: what was recorded by then; a re-run resumes
        done = partial_summary(stop)
        if done is not None:
            console.print(
                f"{done.counts()} in {done.seconds:.0f} s; results in {redact(out)}; "
                "run the same command again to train the rest"
            )
        raise
    _print_tables(summary.tables)
    console.print(
        f"{summary.counts()} in {summary.seconds:.0f} s; results in {redact(out)}"
        + (f"; Ray's logs in {log_file}" if log_file else "")
    )
    for run_id, error in summary.failed.items():
        console.print(f"[red]{run_id}[/]: {error}")
    if summary.failed:
        raise typer.Exit(code=1)


def train(
    store_url: str = typer.Argument(..., help="Store with cubes and a catalog.", callback=normalise_url),
    out: str = typer.Option(
        ..., "--out", help="Results URL (checkpoints go to OUT/checkpoints/<run id>).", callback=normalise_url
    ),
    config: Path | None = config_option("RunConfig"),
    sets: list[str] | None = set_option(),
    model: str | None = typer.Option(None, "--model", help=field_help(RunConfig, "model")),
    series: bool | None = typer.Option(None, "--series/--single", help=field_help(RunConfig, "series")),
    series_length: int | None = typer.Option(
        None, "--series-length", "-T", min=1, help=field_help(RunConfig, "series_length")
    ),
    atmosphere: bool | None = typer.Option(
        None, "--atmosphere/--no-atmosphere", help=field_help(RunConfig, "atmosphere")
    ),
    seed: int | None = typer.Option(None, "--seed", help=field_help(RunConfig, "seed")),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help=field_help(RunConfig, "epochs")),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, help=field_help(RunConfig, "batch_size")
    ),
    crop_size: int | None = typer.Option(
        None, "--crop-size", min=16, help=field_help(RunConfig, "crop_size")
    ),
    lr: float | None = typer.Option(None, "--lr", help=field_help(RunConfig, "lr")),
    workers: int | None = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
    min_workers: int | None = typer.Option(None, "--min-workers", min=1, help="Elastic: fewest workers."),
    max_workers: int | None = typer.Option(None, "--max-workers", min=1, help="Elastic: most workers."),
    weights: str | None = typer.Option(None, "--weights", help=field_help(RunConfig, "weights")),
    weights_dir: str | None = typer.Option(
        None, "--weights-dir", help=field_help(RunConfig, "weights_dir"), callback=normalise_url
    ),
    statistics: str | None = typer.Option(None, "--statistics", help=field_help(RunConfig, "statistics")),
    split_scheme: str | None = typer.Option(
        None, "--split-scheme", help=field_help(RunConfig, "split_scheme")
    ),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (default: local)."),
    print_config: bool = print_config_option(),
) -> None:
    """Train, validate and test one configuration on Ray Train."""
    import json

    from hephaestus.train.trainer import train_run

    run = resolve_config(
        RunConfig,
        config,
        sets,
        model=model,
        series=series,
        series_length=series_length,
        atmosphere=atmosphere,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        crop_size=crop_size,
        lr=lr,
        workers=_workers(workers, min_workers, max_workers),
        weights=weights,
        weights_dir=weights_dir,
        statistics=statistics,
        split_scheme=split_scheme,
    )
    maybe_print(run, print_config)
    from rich.console import Console
    from rich.live import Live

    from hephaestus.cli.progress import RunsBoard
    from hephaestus.platform.ray_session import send_logs_to
    from hephaestus.train.sources import CatalogSource

    source = CatalogSource(store_url)
    source.check()  # a missing catalog is one error line, before any display
    run = source.fit(run)  # the catalog's series length (a mismatch is one line), before any display
    check_url(out, "output")  # an output bucket that does not exist is refused, never created
    log_file = send_logs_to(out)
    console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)  # stdout: the JSON row
    if log_file:
        console.print(f"Ray's logs go to {log_file}")
    board = RunsBoard(out, [(run.run_id, run.epochs, run.task)], title="run")
    board.event("start", {"run_id": run.run_id})
    try:
        with Live(board, console=console, refresh_per_second=1):
            result = train_run(run, store_url, out, address=address)
            board.event("done", {"run_id": run.run_id})
    except KeyboardInterrupt:  # SIGINT / SIGTERM: what was saved by then; a re-run resumes from it
        if not console.is_terminal:
            console.line()  # Live leaves a pipe's last board line unended
        # one line however long (no wrap at the console's width), the path printed as it is
        console.print(_interrupted_line(run, out), soft_wrap=True, markup=False, highlight=False)
        raise
    except Exception:
        if not console.is_terminal:
            console.line()  # the error line starts a line of its own, not the board's last
        raise
    typer.echo(json.dumps(result.row(), default=str, indent=1))


def _interrupted_line(run: RunConfig, out: str) -> str:
    """What an interrupted `hmc train` leaves: the epochs its history recorded and where its checkpoints
    are, which the same command resumes from."""
    from hephaestus.platform.layout import ResultsLayout
    from hephaestus.platform.storage import redact
    from hephaestus.train import history

    done = sum(1 for r in history.read(history.history_url(out, run.run_id)) if not r.get("done"))
    where = redact(ResultsLayout(out).run_checkpoints(run.run_id))
    return (
        f"run {run.run_id} interrupted with {done} of {run.epochs} epochs trained; checkpoints in {where}; "
        "the same command resumes from the last one saved"
    )


def predict(
    checkpoint: str = typer.Argument(
        ..., help="Checkpoint folder of a finished run (results' checkpoint column).", callback=normalise_url
    ),
    cube_url: str = typer.Argument(..., help="Cube to predict on.", callback=normalise_url),
    out: str = typer.Option(
        ..., "--out", help="Output .tif/.tiff (GeoTIFF) or .zarr.", callback=normalise_url
    ),
    pair: str | None = typer.Option(None, "--pair", help="PRIMARY_SECONDARY as YYYYMMDD_YYYYMMDD."),
    unique_id: str | None = typer.Option(None, "--unique-id", help="Hephaestus sample id of the pair."),
    store: str | None = typer.Option(
        None,
        "--store",
        help="Store whose catalog gives a series model its series (default: the cube's store).",
        callback=normalise_url,
    ),
) -> None:
    """Write a georeferenced deformation mask (segmenters) or score (classifiers) for one pair."""
    import json

    from hephaestus.train.predict import predict as run_predict

    if (pair is None) == (unique_id is None):
        raise InputError("give exactly one of --pair and --unique-id")
    check_url(out, "output")  # an output bucket that does not exist is refused, never created
    info = run_predict(checkpoint, cube_url, out, pair=pair, unique_id=unique_id, store_url=store)
    typer.echo(json.dumps(info, default=str))


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark)
    app.command("train")(train)
    app.command("predict")(predict)
