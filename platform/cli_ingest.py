"""`hmc ingest`: build minicubes from source products (or convert published cubes) with Ray."""

from __future__ import annotations

from typing import Literal

import typer


def _progress_bar():  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("ingest tasks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    )


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
        None, help="SOURCES folder as `hmc synth` writes it (licsar/, era5/, annotations/), or cube paths"
    ),
    out: str = typer.Option(..., "--out", help="store URL (local path, s3://, gs://)"),
    address: str = typer.Option(
        None, "--address", help="Ray cluster address (default: RAY_ADDRESS or local)"
    ),
    workers: int = typer.Option(None, "--workers", min=1, help="local Ray CPUs / tasks in flight"),
    zarr_format: int = typer.Option(3, "--zarr-format", help="3 (default, tiled) or 2 (published layout)"),
    licsar: str = typer.Option(None, "--licsar", help="LiCSAR frames folder (overrides SOURCES/licsar)"),
    era5: str = typer.Option(None, "--era5", help="ERA5 NetCDF folder (overrides SOURCES/era5)"),
    annotations: str = typer.Option(None, "--annotations", help="annotation folder or tarball"),
    pairs_per_task: int = typer.Option(4, "--pairs-per-task", min=1, help="pairs per Ray task"),
    from_minicubes: bool = typer.Option(
        False, "--from-minicubes", help="convert the given published cubes (.zarr, .zarr.zip, .zarr.tar)"
    ),
) -> None:
    """Build one cube per frame at OUT/cubes/<FRAME>.zarr; refused products go to OUT/quarantine/."""
    from hephaestus.ingest import ChunkingConfig, IngestConfig, convert_minicubes, run_ingest
    from hephaestus.platform.config import ConfigError

    if zarr_format not in (2, 3):
        typer.echo(f"error: --zarr-format must be 2 or 3, not {zarr_format}", err=True)
        raise typer.Exit(code=1)
    fmt: Literal[2, 3] = 3 if zarr_format == 3 else 2
    with _progress_bar() as bar:
        task = bar.add_task("tasks", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            if from_minicubes:
                if not sources:
                    typer.echo("error: --from-minicubes needs one or more cube paths", err=True)
                    raise typer.Exit(code=1)
                summary = convert_minicubes(
                    sources,
                    out,
                    zarr_format=fmt,
                    chunking=ChunkingConfig(),
                    workers=workers,
                    address=address,
                    pairs_per_task=pairs_per_task,
                    progress=progress,
                )
            else:
                if sources and len(sources) > 1:
                    typer.echo(
                        "error: give one SOURCES folder (or --from-minicubes for cube paths)", err=True
                    )
                    raise typer.Exit(code=1)
                cfg = IngestConfig.build(
                    sources=sources[0] if sources else None,
                    licsar=licsar,
                    era5=era5,
                    annotations=annotations,
                    out=out,
                    zarr_format=fmt,
                    workers=workers,
                    address=address,
                    pairs_per_task=pairs_per_task,
                )
                summary = run_ingest(cfg, progress=progress)
        except (ConfigError, FileNotFoundError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
    _print_summary(summary, out)
    if not summary.ok:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
