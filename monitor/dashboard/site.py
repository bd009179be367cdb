"""Build the site: read the store once (data.py), draw the figures, write every page and asset.

Layout of SITE (any fsspec URL; every link relative, so the folder or bucket prefix can be served as is):
`index.html` (map, alerts, volcanoes), `volcanoes/<key>.html|png` (score timeline),
`alerts/<uid>.html|png` (the pair: interferogram with predicted and true mask), `stac/index.html`
(collection), `stac/items/<frame>.html` (an item's assets and its pair index rows), `data/*.geojson`
(frames and alerts for GIS tools), `assets/`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hephaestus.monitor.dashboard import assets, data, figures, pages
from hephaestus.monitor.dashboard.images import MANIFEST, ImageLedger, digest
from hephaestus.platform import schema, storage
from hephaestus.platform.cube import cube_attrs, dataset_version, descends_from, open_cube
from hephaestus.platform.errors import HephaestusError
from hephaestus.platform.layout import safe_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DashboardReport:
    out: str
    index: str  # URL of index.html
    frames: int
    volcanoes: int
    alerts: int
    pages: int
    images: int
    """Images drawn by this build."""
    skipped_images: list[str]
    kept_images: int = 0
    """Images of the previous build left as they were (drawn from the same inputs)."""


def _polygon(text: str | None, where: str) -> dict | None:
    if not text:
        return None
    try:
        geom = json.loads(text)
    except ValueError:
        log.warning("%s: polygon is not GeoJSON; not drawn", where)
        return None
    return geom if isinstance(geom, dict) and geom.get("type") in ("Polygon", "MultiPolygon") else None


def _jsonable(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def frames_geojson(site: data.SiteData) -> dict:
    """The items' footprints as a FeatureCollection (id = frame id), for GIS tools."""
    feats = [
        {"type": "Feature", "id": f.frame_id, "geometry": f.geometry, "properties": {"frame_id": f.frame_id}}
        for f in site.frames
    ]
    return {"type": "FeatureCollection", "features": feats}


def alerts_geojson(rows: list[dict], geoms: dict[str, dict | None]) -> dict:
    """The alerts as Features (properties = every column but `polygon`, as in STORE/monitor/alerts.geojson)."""
    feats = [
        {
            "type": "Feature",
            "id": r["alert_id"],
            "geometry": geoms.get(r["alert_id"]),
            "properties": {k: _jsonable(v) for k, v in r.items() if k != "polygon"},
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "features": feats}


class _Cubes:
    """Open cubes once each (an alert page reads one pair's slices from its frame's cube)."""

    def __init__(self) -> None:
        self._open: dict[str, object] = {}
        self._attrs: dict[str, dict | None] = {}

    def content_of(self, url: str, scored: str | None) -> str | None:
        """A token of what the cube at `url` holds for a pair scored from cube version `scored`: that
        version while the cube is it or grew from it by appends (which never change a published pair),
        else the cube's own version (rebuilt: redraw). None: the cube's metadata cannot be read."""
        if url not in self._attrs:
            try:
                self._attrs[url] = cube_attrs(url)
            except (HephaestusError, OSError, ValueError):
                self._attrs[url] = None
        attrs = self._attrs[url]
        if attrs is None:
            return None
        if scored and descends_from(attrs, scored):
            return scored
        return dataset_version(attrs)

    def pair(self, url: str, i: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if url not in self._open:
            self._open[url] = open_cube(url, validate=False)
        ds = self._open[url]
        sel = {schema.PRIMARY: i, schema.SECONDARY: j}
        phase = np.asarray(ds["insar_difference"].isel(sel).values, dtype="float32")  # type: ignore[index]
        mask = np.asarray(ds["deformation_mask"].isel(sel).values)  # type: ignore[index]
        lat = np.asarray(ds[schema.LAT].values)  # type: ignore[index]
        lon = np.asarray(ds[schema.LON].values)  # type: ignore[index]
        return phase, mask, lat, lon


def _alert_inputs(a: dict, pair: dict | None, cubes: _Cubes) -> str | None:
    """The digest of what an alert's image is drawn from (None: unknown, draw it)."""
    if pair is None or not pair["cube_url"] or pair["primary_index"] is None:
        return None
    content = cubes.content_of(pair["cube_url"], a.get("cube_version"))
    if content is None:
        return None
    alert = {k: a.get(k) for k in ("alert_id", "frame_id", "primary_date", "secondary_date", "polygon")}
    used = ("cube_url", "primary_index", "secondary_index", "label", "positive")
    return digest("alert", alert, {k: pair.get(k) for k in used}, content)


def _alert_image(a: dict, pair: dict | None, cubes: _Cubes, geom: dict | None) -> tuple[bytes | None, str]:
    """(PNG or None, caption) of one alert's pair (`pair`: its catalog row, None when not listed)."""
    if pair is None or not pair["cube_url"] or pair["primary_index"] is None:
        return None, "The catalog lists no cube for this pair: no interferogram to show."
    phase, mask, lat, lon = cubes.pair(pair["cube_url"], pair["primary_index"], pair["secondary_index"])
    annotated = bool(pair.get("label"))
    true_mask = mask if annotated and pair["positive"] else None
    if not annotated:
        truth = "true mask unknown (pair not annotated)"
    elif pair["positive"]:
        truth = f"true mask: the annotation's deformation ({int(np.count_nonzero(mask > 0))} px, cyan)"
    else:
        truth = "annotated as no deformation (no true mask)"
    title = f"{a['frame_id']}  {figures.iso(a['primary_date'])} → {figures.iso(a['secondary_date'])}"
    png = figures.pair_png(phase, lat, lon, geom, true_mask, title)
    caption = f"Wrapped phase; predicted mask (alert polygon, red){'' if geom else ': none'}; {truth}."
    return png, caption


class _SiteWriter:
    """Where a build writes: every file goes through `put` (pages counted) and every drawn image
    through `draw` (counted and recorded in the ledger, so the next build can keep it)."""

    def __init__(self, out: str, ledger: ImageLedger) -> None:
        self.out = out
        self.ledger = ledger
        self.pages = 0
        self.images = 0

    def put(self, rel: str, payload: bytes | str) -> None:
        """Write `payload` at `rel` (slash-separated, under the site), whole or not at all: a reader (or a
        build that fails) sees the previous file or this one, never a part."""
        storage.write_bytes_atomic(
            storage.join(self.out, *rel.split("/")), payload.encode() if isinstance(payload, str) else payload
        )
        self.pages += rel.endswith(".html")

    def draw(self, rel: str, png: bytes, key: str | None, caption: str = "") -> None:
        """Write a freshly drawn image and record what it was drawn from (`key`) when known."""
        self.put(rel, png)
        self.images += 1
        if key is not None:
            self.ledger.record(rel, key, caption)


def _write_volcano_pages(site: data.SiteData, w: _SiteWriter) -> None:
    """Each volcano's page and score timeline (redrawn only when its scores or title changed)."""
    for v in site.volcanoes:
        mine = [r for r in site.scores if site.volcano_of(r) is v]
        alerts = [r for r in site.alerts if site.volcano_of(r) is v]
        png, title = f"{v.key}.png", f"{v.name}: deformation score per pair"
        key = digest("timeline", title, mine)
        if w.ledger.kept(f"volcanoes/{png}", key) is None:
            w.draw(f"volcanoes/{png}", figures.timeline_png(mine, title), key)
        w.put(v.page, pages.volcano_page(site, v, mine, alerts, png))


def _write_alert_page(
    site: data.SiteData, a: dict, geom: dict | None, cubes: _Cubes, w: _SiteWriter, skipped: list[str]
) -> None:
    """One alert's page and its pair image: the previous build's image kept when its inputs are the
    same, else drawn; an image that cannot be drawn is named in `skipped` and the page says why."""
    page = pages.alert_page(a["alert_id"])
    pair = site.pair(a["frame_id"], a["primary_date"], a["secondary_date"])
    image: str | None = f"{safe_name(a['alert_id'])}.png"
    key = _alert_inputs(a, pair, cubes)
    before = None if key is None else w.ledger.kept(f"alerts/{image}", key)
    if before is not None:
        caption = before["caption"]
    else:
        try:
            png, caption = _alert_image(a, pair, cubes, geom)
        except (HephaestusError, OSError, KeyError, IndexError, ValueError) as exc:
            png, caption = None, f"The interferogram could not be read: {exc}"
        if png is None:
            skipped.append(a["alert_id"])
            image = None
        else:
            w.draw(f"alerts/{image}", png, key, caption)
    w.put(page, pages.pair_page(site, a, image, caption, pair, site.volcano_of(a)))


_ITEM_PAGE_COLUMNS = (
    "unique_id",
    "primary_date",
    "secondary_date",
    "split",
    "positive",
    "usable",
    "deformation_pixels",
)
"""The pair index columns an item's page lists."""


def _write_stac_pages(site: data.SiteData, w: _SiteWriter) -> None:
    """The STAC view: the collection page and one page per item with its pair index rows."""
    w.put("stac/index.html", pages.stac_index_page(site))
    alerted = {(a["frame_id"], a["primary_date"], a["secondary_date"]): a["alert_id"] for a in site.alerts}
    by_frame: dict[str, list[dict]] = {}
    for row in site.pairs.select([*_ITEM_PAGE_COLUMNS, "frame_id"]).to_pylist():
        by_frame.setdefault(row["frame_id"], []).append(row)
    for f in site.frames:
        w.put(f.page, pages.stac_item_page(site, f, by_frame.get(f.frame_id, []), alerted))


def build_dashboard(
    store_url: str | os.PathLike[str],
    out_url: str | os.PathLike[str],
    *,
    volcano_table: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> DashboardReport:
    """Write the static site of a store's published catalog and monitor tables to `out_url`.

    Pages are written every time; an image is drawn only when what it shows changed since the site's
    previous build (`images.ImageLedger`). Publishing is ordered so that the site is whole at every moment,
    on a folder or an object store alike: each file is replaced whole (atomic write), pages are never
    removed, and `index.html`, the entry point, is written last, so a build that fails part way leaves the
    previous index linking only pages that exist.
    """
    site = data.load(store_url, volcano_table)
    out = storage.normalize(out_url)
    w = _SiteWriter(out, ImageLedger(out))
    say = progress or (lambda _msg: None)
    for name, payload in assets.site_assets().items():
        w.put(f"{pages.ASSETS}/{name}", payload)

    geoms = {a["alert_id"]: _polygon(a["polygon"], f"alert {a['alert_id']}") for a in site.alerts}
    index = pages.index_page(site, geoms)  # rendered first (a page that cannot render fails the build
    # before anything is written), published last

    say(f"{len(site.volcanoes)} volcano timelines")
    _write_volcano_pages(site, w)

    say(f"{len(site.alerts)} alert pages")
    cubes = _Cubes()
    skipped: list[str] = []
    for a in site.alerts:
        _write_alert_page(site, a, geoms[a["alert_id"]], cubes, w, skipped)

    w.put(f"{pages.DATA}/frames.geojson", json.dumps(frames_geojson(site)))
    w.put(f"{pages.DATA}/alerts.geojson", json.dumps(alerts_geojson(site.alerts, geoms)))

    say(f"STAC view of {len(site.frames)} items")
    _write_stac_pages(site, w)

    w.put(MANIFEST, w.ledger.manifest())  # after the images it describes
    w.put("index.html", index)  # last: it links only pages that are now written (a build that fails
    # before here leaves the previous index, whose pages all still exist, each whole)
    return DashboardReport(
        out=out,
        index=storage.join(out, "index.html"),
        frames=len(site.frames),
        volcanoes=len(site.volcanoes),
        alerts=len(site.alerts),
        pages=w.pages,
        images=w.images,
        skipped_images=skipped,
        kept_images=w.ledger.reused,
    )
