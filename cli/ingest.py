"""`hmc ingest`: build minicubes from source products (or convert published cubes) with Ray."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hephaestus.cli.common import (
    config_option,
    maybe_print,
    normalise_url,
    print_config_option,
    resolve_config,
    set_option,
)
from hephaestus.platform.errors import InputError

if TYPE_CHECKING:
    from hephaestus.ingest import IngestConfig


def _progress_bar():  # type: ignore[no-untyped-def]
    from hephaestus.cli.progress import progress_bar

    return progress_bar(transient=True)


def _print_summary(summary, out: str) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    from hephaestus.platform.storage import redact

    table = Table(title=f"ingest summary ({redact(out)})")
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("pairs written", summary.pairs_written),
        ("pairs skipped (already done)", summary.pairs_skipped),
        ("pairs quarantined", summary.pairs_quarantined),
        ("pairs without product", summary.pairs_without_product),
        ("MB written (uncompressed)", f"{summary.bytes_written / 1e6:.1f}"),
        ("MB stored", f"{summary.bytes_stored / 1e6:.1f}"),
        ("seconds", f"{summary.seconds:.1f}"),
        ("cubes", len(summary.cube_urls)),
        ("cubes grown by appends (new dates only)", len(summary.frames_appended)),
    ]
    for what, value in rows:
        table.add_row(what, str(value))
    Console().print(table)
    for rec in summary.quarantined[:20]:
        typer.echo(f"quarantined {rec.frame} {rec.product}: {rec.reason}")
    if len(summary.quarantined) > 20:
        typer.echo(f"... and {len(summary.quarantined) - 20} more under {redact(out)}/quarantine/")
    for frame, why in summary.frames_failed.items():
        typer.echo(f"error: frame {frame} was not published: {why}", err=True)


def ingest(
    sources: list[str] = typer.Argument(
        None,
        help="SOURCES folder as `hmc synth` writes it (licsar/, era5/, annotations/), or cube paths",
        callback=normalise_url,
    ),
    out: str | None = typer.Option(
        None, "--out", help="store URL (local path, s3://, gs://); required", callback=normalise_url
    ),
    address: str | None = typer.Option(
        None, "--address", help="Ray cluster address (default: RAY_ADDRESS or local)"
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="local Ray CPUs / tasks in flight"),
    zarr_format: int | None = typer.Option(
        None, "--zarr-format", help="3 (default, tiled) or 2 (published layout)"
    ),
    licsar: str | None = typer.Option(
        None, "--licsar", help="LiCSAR frames folder (overrides SOURCES/licsar)", callback=normalise_url
    ),
    era5: str | None = typer.Option(
        None, "--era5", help="ERA5 NetCDF folder (overrides SOURCES/era5)", callback=normalise_url
    ),
    annotations: str | None = typer.Option(
        None, "--annotations", help="annotation folder or tarball", callback=normalise_url
    ),
    pairs_per_task: int | None = typer.Option(
        None, "--pairs-per-task", min=1, help="pairs per Ray task (default 4)"
    ),
    from_minicubes: bool = typer.Option(
        False, "--from-minicubes", help="convert the given published cubes (.zarr, .zarr.zip, .zarr.tar)"
    ),
    config: Path | None = config_option("IngestConfig"),
    sets: list[str] | None = set_option(),
    print_config: bool = print_config_option(),
) -> None:
    """Build one cube per frame at OUT/cubes/<FRAME>.zarr; refused products go to OUT/quarantine/."""
    from hephaestus.ingest import IngestConfig

    if from_minicubes and not sources:
        raise InputError("--from-minicubes needs one or more cube paths")
    if not from_minicubes and sources and len(sources) > 1:
        raise InputError("give one SOURCES folder (or --from-minicubes for cube paths)")
    cfg = resolve_config(
        IngestConfig,
        config,
        sets,
        sources=sources[0] if sources else None,
        licsar=licsar,
        era5=era5,
        annotations=annotations,
        out=out,
        zarr_format=zarr_format,
        workers=workers,
        address=address,
        pairs_per_task=pairs_per_task,
    )
    maybe_print(cfg, print_config)
    build_cubes(cfg, cube_paths=sources if from_minicubes else None)


def build_cubes(cfg: IngestConfig, cube_paths: list[str] | None = None) -> None:
    """Ingest `cfg`'s sources (or convert the published `cube_paths`) with a progress bar, then the
    summary table: what `hmc ingest` runs once its configuration is resolved. Exit 1 if a frame failed."""
    from hephaestus.ingest import convert_minicubes, run_ingest
    from hephaestus.platform.ray_session import send_logs_to

    log_file = send_logs_to(cfg.out)
    with _progress_bar() as bar:
        task = bar.add_task("ingest tasks", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if cube_paths is not None:
            summary = convert_minicubes(
                cube_paths,
                cfg.out,
                zarr_format=cfg.zarr_format,
                chunking=cfg.chunking,
                workers=cfg.workers,
                address=cfg.address,
                pairs_per_task=cfg.pairs_per_task,
                retries=cfg.task_retries,
                progress=progress,
            )
        else:
            summary = run_ingest(cfg, progress=progress)
    _print_summary(summary, cfg.out)
    if log_file:
        typer.echo(f"Ray's logs in {log_file}")
    if not summary.ok:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
