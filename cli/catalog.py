"""`hmc catalog ...`: build, build from annotations, and query the catalog of a store.

The catalog stage is imported inside each command so that `hmc --help` stays fast.
"""

from __future__ import annotations

import json
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
from hephaestus.platform import schema
from hephaestus.platform.errors import InputError

if TYPE_CHECKING:
    from hephaestus.catalog import CatalogConfig

catalog_app = typer.Typer(
    name="catalog",
    help="STAC collection, Parquet pair index and series table of a minicube store.",
    no_args_is_help=True,
)


def _print_counts(counts: dict[str, dict[str, int]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="usable pairs and series per split (positive / negative)")
    for col in ("split", "pairs +", "pairs -", "series +", "series -"):
        table.add_column(col, justify="right")
    for split, c in counts.items():
        table.add_row(
            split,
            str(c["pairs_positive"]),
            str(c["pairs_negative"]),
            str(c["series_positive"]),
            str(c["series_negative"]),
        )
    Console().print(table)


SERIES_HELP = f"Pairs per time series (default {schema.SERIES_LENGTH}); recorded in the catalog."
PARTITIONING_HELP = "Pair index hive keys: split (default; frames sorted inside) or split/frame_id."


@catalog_app.command("build")
def build(
    store_url: str = typer.Argument(
        ..., help="Store URL (local path, s3://, gs://) holding cubes/.", callback=normalise_url
    ),
    series_length: int | None = typer.Option(None, "--series-length", "-T", min=1, help=SERIES_HELP),
    seed: int | None = typer.Option(None, help="Seed of the padding of short series (default 0)."),
    annotations: str | None = typer.Option(
        None, help="Annotation JSON (tarball/folder) for fields cubes lack.", callback=normalise_url
    ),
    statistics: bool | None = typer.Option(
        None, "--statistics/--no-statistics", help="Stream normalisation stats (default on)."
    ),
    geoparquet: bool | None = typer.Option(
        None, "--geoparquet/--no-geoparquet", help="Write a stac-geoparquet mirror (default on)."
    ),
    workers: int | None = typer.Option(None, min=1, help="Threads reading pair slices (default 2)."),
    strict: bool | None = typer.Option(
        None, "--strict/--no-strict", help="Fail on a broken cube instead of leaving it out."
    ),
    partitioning: str | None = typer.Option(None, help=PARTITIONING_HELP),
    incremental: bool | None = typer.Option(
        None,
        "--incremental/--full",
        help="Read only cubes and pairs changed since the published catalog (default) or every cube.",
    ),
    config: Path | None = config_option("CatalogConfig"),
    sets: list[str] | None = set_option(),
    print_config: bool = print_config_option(),
) -> None:
    """Catalog the cubes under STORE_URL/cubes/ and publish atomically under STORE_URL/catalog/."""
    from hephaestus.catalog import CatalogConfig

    cfg = resolve_config(
        CatalogConfig,
        config,
        sets,
        series_length=series_length,
        seed=seed,
        statistics=statistics,
        geoparquet=geoparquet,
        workers=workers,
        strict=strict,
        pair_partitioning=partitioning,
        incremental=incremental,
    )
    maybe_print(cfg, print_config)
    publish_catalog(store_url, cfg, annotations)


def publish_catalog(store_url: str, cfg: CatalogConfig, annotations: str | None = None) -> None:
    """Catalog the store's cubes with a progress bar, then the summary lines and tables: what
    `hmc catalog build` runs once its configuration is resolved."""
    from hephaestus.catalog import build_catalog
    from hephaestus.cli.progress import progress_bar

    with progress_bar(transient=True) as bar:
        task = bar.add_task("scanning cubes", total=None)

        def progress(cube: str, done: int, _total: int) -> None:
            bar.update(task, description=f"scanning {cube}", advance=1)

        report = build_catalog(store_url, cfg, annotations=annotations, progress=progress)
    for problem in report.skipped:
        typer.echo(f"warning: {problem}", err=True)
    typer.echo(
        f"published catalog {report.version}: {len(report.cubes)} cube(s), {report.pairs} pairs, "
        f"{report.series} series of {cfg.series_length}"
        + (
            f"; {report.reused_pairs} pairs unchanged since {report.reused_from}"
            if report.reused_from
            else ""
        )
    )
    _print_counts(report.counts)
    if cfg.statistics:
        _print_statistics(store_url)


def _print_statistics(store_url: str) -> None:
    """The streamed statistics beside the authors' statistics.json (ratios: ours / theirs)."""
    from rich.console import Console
    from rich.table import Table

    from hephaestus.catalog import resolve
    from hephaestus.platform import stac_extension as hx

    _, coll = resolve(store_url)
    table = Table(title="normalisation statistics: this store vs the authors' statistics.json")
    for col in ("variable", "count", "mean", "authors mean", "std", "authors std", "std ratio"):
        table.add_column(col, justify="right")
    for key, e in (coll.get(hx.STATISTICS) or {}).items():
        if not e.get("count"):
            continue
        table.add_row(
            key,
            str(e["count"]),
            f"{e['mean']:.6g}",
            f"{e['authors_mean']:.6g}",
            f"{e['std']:.6g}",
            f"{e['authors_std']:.6g}",
            f"{e['std_ratio']:.3f}",
        )
    Console().print(table)


@catalog_app.command("from-annotations")
def from_annotations(
    annotations: str = typer.Argument(
        ..., help="Annotation JSON: tarball, folder or one JSON file.", callback=normalise_url
    ),
    out: str = typer.Option(
        ..., "--out", help="Store URL; the catalog goes to OUT/catalog/.", callback=normalise_url
    ),
    available: str | None = typer.Option(
        None, help="quality_timeseries.json (or a JSON list of uniqueIDs).", callback=normalise_url
    ),
    series_length: int | None = typer.Option(None, "--series-length", "-T", min=1, help=SERIES_HELP),
    seed: int | None = typer.Option(None, help="Seed of the padding of short series (default 0)."),
    skip_bad: bool | None = typer.Option(
        None, "--skip-bad/--no-skip-bad", help="Set malformed annotation files aside instead of failing."
    ),
    partitioning: str | None = typer.Option(None, help=PARTITIONING_HELP),
    config: Path | None = config_option("CatalogConfig"),
    sets: list[str] | None = set_option(),
    print_config: bool = print_config_option(),
) -> None:
    """Pair index and series table from annotation JSON alone (no cubes: cube_url is null)."""
    from hephaestus.catalog import CatalogConfig, catalog_from_annotations

    cfg = resolve_config(
        CatalogConfig,
        config,
        sets,
        preset={"statistics": False, "strict": True},  # no cubes to stream; a bad file fails by default
        series_length=series_length,
        seed=seed,
        strict=None if skip_bad is None else not skip_bad,
        pair_partitioning=partitioning,
    )
    maybe_print(cfg, print_config)
    report = catalog_from_annotations(annotations, out, available=available, config=cfg)
    for problem in report.skipped:
        typer.echo(f"warning: {problem}", err=True)
    typer.echo(
        f"published catalog {report.version}: {report.pairs} pairs, "
        f"{report.series} series of {cfg.series_length}"
    )
    _print_counts(report.counts)


@catalog_app.command("query")
def query_cmd(
    store_url: str = typer.Argument(..., help="Store URL with a published catalog.", callback=normalise_url),
    sql: str = typer.Argument(..., help="DuckDB SQL over the views `pairs` and `series`."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or parquet."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here instead of stdout.", callback=normalise_url
    ),
) -> None:
    """Run DuckDB SQL over the catalog (local or object storage)."""
    import duckdb

    from hephaestus.catalog import query
    from hephaestus.platform.storage import redact

    if fmt not in ("table", "csv", "parquet"):
        raise InputError(f"--format must be table, csv or parquet, not {fmt!r}")
    if fmt == "parquet" and output is None:
        raise InputError("--format parquet needs --output FILE")
    try:
        result = query(store_url, sql)
    except duckdb.Error as exc:  # the user's SQL: bad input, not a failed run
        raise InputError(f"{redact(store_url)}: query failed: {exc}") from exc
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(result, str(output))
        typer.echo(f"wrote {result.num_rows} rows to {output}")
    elif fmt == "csv":
        import io

        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        pacsv.write_csv(_flat(result), buf)
        text = buf.getvalue().decode()
        if output:
            output.write_text(text)
        else:
            typer.echo(text, nl=False)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_lines=False)
        for name in result.column_names:
            table.add_column(name)
        for row in result.to_pylist():
            table.add_row(
                *[json.dumps(v, default=str) if isinstance(v, list | dict) else str(v) for v in row.values()]
            )
        if output:
            with output.open("w") as fh:
                Console(file=fh, width=200).print(table)
        else:
            Console(width=200).print(table)


def _flat(table):  # type: ignore[no-untyped-def]
    """Nested columns (lists of labels, pair ids) as JSON text, so that CSV can hold them."""
    import pyarrow as pa

    cols = []
    for col in table.columns:
        if pa.types.is_nested(col.type):
            text = [None if v is None else json.dumps(v, default=str) for v in col.to_pylist()]
            col = pa.array(text, pa.string())
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


@catalog_app.command("export-authors")
def export_authors_cmd(
    store_url: str = typer.Argument(
        ..., help="Store URL with cubes/ and a published catalog.", callback=normalise_url
    ),
    out: str = typer.Argument(
        ..., help="Folder (or URL) for the authors' loader files.", callback=normalise_url
    ),
) -> None:
    """quality_timeseries.json, merged annotations.json and statistics.json for the authors' loader."""
    from hephaestus.catalog.export_authors import export_authors

    report = export_authors(store_url, out)
    typer.echo(
        f"wrote {', '.join(report.files.values())}: {report.frames} frame(s), "
        f"{report.usable_pairs} usable pairs, {report.annotations} annotations"
    )


@catalog_app.command("search")
def search_cmd(
    store_url: str = typer.Argument(..., help="Store URL with a published catalog.", callback=normalise_url),
    bbox: str | None = typer.Option(None, help="west,south,east,north (degrees)."),
    intersects: str | None = typer.Option(None, help="GeoJSON geometry: a file or the JSON itself."),
    datetime: str | None = typer.Option(None, help="Instant or interval start/end; '..' for an open end."),
    ids: str | None = typer.Option(None, help="Item ids, comma-separated."),
    collections: str | None = typer.Option(None, help="Collection ids, comma-separated."),
    filter: str | None = typer.Option(None, "--filter", help="CQL2 filter (text or JSON)."),
    filter_lang: str = typer.Option("cql2-text", "--filter-lang", help="cql2-text or cql2-json."),
    sortby: str | None = typer.Option(None, help="Fields, comma-separated; '-field' sorts descending."),
    limit: int | None = typer.Option(None, min=1, help="At most this many items."),
) -> None:
    """STAC API item search over the catalog's stac-geoparquet mirror; prints a GeoJSON ItemCollection."""
    from hephaestus.catalog.search import search

    if intersects and Path(intersects).is_file():
        intersects = Path(intersects).read_text()
    try:
        box = None if bbox is None else [float(v) for v in bbox.split(",")]
    except ValueError as exc:
        raise InputError(f"--bbox takes four numbers west,south,east,north, not {bbox!r}") from exc
    result = search(
        store_url,
        bbox=box,
        intersects=intersects,
        datetime=datetime,
        ids=ids,
        collections=collections,
        filter=filter,
        filter_lang=filter_lang,
        sortby=sortby,
        limit=limit,
    )
    typer.echo(json.dumps(result, default=str))


@catalog_app.command("serve")
def serve_cmd(
    store_url: str = typer.Argument(..., help="Store URL with a published catalog.", callback=normalise_url),
    port: int = typer.Option(8000, min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
) -> None:
    """Read-only STAC API (landing page, collections, items, search) on 127.0.0.1; Ctrl-C stops it (exit 0)."""
    from hephaestus.catalog.serve import make_server

    server = make_server(store_url, port)
    typer.echo(f"STAC API at {server.url} (Ctrl-C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
