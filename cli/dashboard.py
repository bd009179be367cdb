"""`hmc dashboard STORE --out SITE`: write the static web view of a store (the site: monitor/dashboard/) as a
new version under SITE/v/ and switch SITE/index.html, the entry page it prints, to it.

Thin on purpose: the stage is imported inside the command so that `hmc --help` stays fast.
"""

from __future__ import annotations

import typer

from hephaestus.cli.common import normalise_url


def dashboard(
    store_url: str = typer.Argument(
        ..., help="Store URL (local path, s3://, gs://) with a published catalog.", callback=normalise_url
    ),
    out: str = typer.Option(
        ...,
        "--out",
        "-o",
        help="Where to write the site (folder or bucket prefix): each build a new version under SITE/v/, "
        "SITE/index.html its entry page.",
        callback=normalise_url,
    ),
    volcanoes: str | None = typer.Option(
        None,
        "--volcanoes",
        help="GVP volcano list (gvp_holocene.csv) that places volcanoes on the map (default: the "
        "monitor's, ../shared/data/volcanoes/, when present; without one, volcanoes are listed, not drawn).",
        callback=normalise_url,
    ),
    pair_image_cycles: int | None = typer.Option(
        None,
        "--pair-image-cycles",
        min=0,
        help="Draw pairs' images only for alerted pairs and the pairs of the latest N monitoring cycles "
        "(a large store's first build); every pair keeps its page. Default: every pair's image.",
    ),
) -> None:
    """Static site: status board (volcanoes by status, map, episodes, alerts), volcano timelines, every
    scored pair, alert pages with GeoTIFFs, STAC browser."""
    write_dashboard(store_url, out, volcanoes, pair_image_cycles)


def write_dashboard(
    store_url: str, out: str, volcanoes: str | None = None, pair_image_cycles: int | None = None
) -> None:
    """Write the site of `store_url` to `out` and say what was drawn: what `hmc dashboard` runs. Without a
    volcano list, the monitor's default GVP list is used where present."""
    from hephaestus.monitor.dashboard import build_dashboard
    from hephaestus.platform import storage
    from hephaestus.platform.volcanoes import DEFAULT_GVP

    storage.check_url(out, "output")  # a site in a bucket that does not exist: refused, never created
    if volcanoes is None and DEFAULT_GVP.is_file():
        volcanoes = str(DEFAULT_GVP)

    report = build_dashboard(
        store_url,
        out,
        volcano_table=volcanoes,
        progress=lambda m: typer.echo(m, err=True),
        pair_image_cycles=pair_image_cycles,
    )
    typer.echo(
        f"dashboard: {report.frames} frames, {report.volcanoes} volcanoes, {report.alerts} alerts; "
        f"{report.pages} pages, {report.images} images drawn, {report.kept_images} unchanged; "
        f"{report.pair_images} pair images drawn, {report.kept_pair_images} unchanged; "
        f"{report.geotiffs} GeoTIFFs written, {report.kept_geotiffs} unchanged; version {report.version}"
    )
    for alert_id in report.skipped_images:
        typer.echo(f"warning: alert {alert_id}: no interferogram (see its page)", err=True)
    typer.echo(storage.redact(report.index))


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
