"""Build the site: read the store once (data.py), draw the figures, write every page and asset.

Every build writes a whole new version, `SITE/v/<version>/`, then switches readers to it (versions.py:
`SITE/current.json` names the current version, `SITE/index.html` is the entry page that redirects to it),
so a build that fails part way leaves the previous version current and whole.

Layout of a version (every link relative, so the folder or bucket prefix can be served as is):
`index.html` (the status board: volcanoes by status, map of frames by status, episodes, alerts),
`volcanoes/<key>.html|png` (score and deformed-area timeline, episodes shaded, every scored pair),
`pairs/<uid>.html|png` (every scored pair, alerted or not: phase, coherence, annotated mask, the predicted
mask drawn over them, previous/next pair of the volcano), `alerts/<uid>.html|png|tif` (an alert: its pair's
interferogram with predicted and true mask, the predicted mask as a GeoTIFF on the cube's grid),
`stac/index.html` (collection), `stac/items/<frame>.html` (an item's assets and its pair index rows),
`data/*.geojson` (frames, alerts, episodes for GIS tools), `assets/`.

Every scored pair gets its page and its compact image (figures.pair_strip_png: three panels, no
figure layout, ~40 ms a pair on a 1400 x 1200 frame), so a store's whole history is browsable; like every
image, a pair's is drawn once and kept by later builds while its inputs are unchanged (images.py: the
new version gets the previous version's file by a hard link or a server-side copy). For a
large store's first build, `pair_image_cycles=N` (`hmc dashboard --pair-image-cycles N`) draws only the
images of alerted pairs and of pairs scored by the latest N cycles (by their `scored_at`: one time stamp
per cycle); the other pairs keep their page, which says why it shows no image, and an image drawn by an
earlier build is kept.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from hephaestus.monitor import episodes as episode_table
from hephaestus.monitor.dashboard import assets, data, figures, pages, versions
from hephaestus.monitor.dashboard import status as st
from hephaestus.monitor.dashboard.images import MANIFEST, ImageLedger, digest
from hephaestus.platform import schema, storage
from hephaestus.platform.cube import cube_attrs, dataset_version, descends_from, open_cube
from hephaestus.platform.errors import HephaestusError
from hephaestus.platform.layout import safe_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DashboardReport:
    out: str
    """The site (SITE)."""
    index: str
    """URL of the entry page, SITE/index.html (it redirects to the current version's board)."""
    root: str
    """URL of the version this build wrote and made current (SITE/v/<version>): the site's files."""
    version: str
    frames: int
    volcanoes: int
    alerts: int
    pages: int
    images: int
    """Images drawn by this build."""
    skipped_images: list[str]
    kept_images: int = 0
    """Images of the previous build left as they were (drawn from the same inputs)."""
    pair_images: int = 0
    """Pairs' compact images drawn by this build (counted apart from `images`)."""
    kept_pair_images: int = 0
    geotiffs: int = 0
    """Alerts' predicted-mask GeoTIFFs written by this build."""
    kept_geotiffs: int = 0
    episodes: int = 0


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

    def _ds(self, url: str):  # type: ignore[no-untyped-def]
        if url not in self._open:
            self._open[url] = open_cube(url, validate=False)
        return self._open[url]

    def grid(self, url: str) -> tuple[np.ndarray, np.ndarray]:
        """(lat, lon) pixel centres of a cube's grid."""
        ds = self._ds(url)
        return np.asarray(ds[schema.LAT].values), np.asarray(ds[schema.LON].values)

    def pair(self, url: str, i: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ds = self._ds(url)
        sel = {schema.PRIMARY: i, schema.SECONDARY: j}
        phase = np.asarray(ds["insar_difference"].isel(sel).values, dtype="float32")
        mask = np.asarray(ds["deformation_mask"].isel(sel).values)
        lat, lon = self.grid(url)
        return phase, mask, lat, lon

    def coherence(self, url: str, i: int, j: int) -> np.ndarray:
        sel = {schema.PRIMARY: i, schema.SECONDARY: j}
        return np.asarray(self._ds(url)["insar_coherence"].isel(sel).values, dtype="float32")


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
    """Where a build writes (`out`: its version's folder): every file goes through `put` (pages counted)
    and every drawn image through `draw` (counted and recorded in the ledger, so the next build can keep it)."""

    def __init__(self, out: str, ledger: ImageLedger) -> None:
        self.out = out
        self.ledger = ledger
        self.pages = 0
        self.images = 0
        self.pair_images = 0
        self.geotiffs = 0

    def put(self, rel: str, payload: bytes | str) -> None:
        """Write `payload` at `rel` (slash-separated, under the version), whole or not at all: a build
        that fails leaves no part file behind."""
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


def _write_volcano_pages(site: data.SiteData, board: list[st.VolcanoStatus], w: _SiteWriter) -> None:
    """Each volcano's page and timeline (redrawn only when its scores, episodes or title changed)."""
    for row in board:
        v = row.volcano
        png, title = f"{v.key}.png", f"{v.name}: deformation score and area per pair"
        shaded = [{k: e[k] for k in ("episode_id", "start_date", "end_date", "status")} for e in row.episodes]
        key = digest("timeline", title, row.scores, shaded)
        if w.ledger.kept(f"volcanoes/{png}", key) is None:
            w.draw(f"volcanoes/{png}", figures.timeline_png(row.scores, title, shaded), key)
        w.put(v.page, pages.volcano_page(site, row, png))


def _geotiff_bytes(a: dict, geom: dict, lat: np.ndarray, lon: np.ndarray) -> bytes:
    """The alert's predicted mask (1 inside its polygon) on the cube's grid, written as `hmc predict`
    writes its GeoTIFFs (EPSG:4326, the grid's transform)."""
    from rasterio.features import rasterize

    from hephaestus.train.predict import grid_transform, write_raster

    mask = rasterize(
        [(geom, 1)], out_shape=(lat.size, lon.size), transform=grid_transform(lat, lon), fill=0, dtype="uint8"
    )
    tags = {k: a.get(k) for k in ("alert_id", "frame_id", "primary_date", "secondary_date", "score")}
    tags["description"] = "predicted deformation mask of an hmc monitor alert (1: deformed)"
    with tempfile.TemporaryDirectory(prefix="hmc-dashboard-") as tmp:
        out = write_raster(os.path.join(tmp, "mask.tif"), {"predicted_mask": mask}, lat, lon, tags)
        return storage.read_bytes(out)


def _write_geotiff(
    a: dict, pair: dict | None, geom: dict | None, cubes: _Cubes, w: _SiteWriter
) -> str | None:
    """An alert's GeoTIFF (kept while its polygon and cube are unchanged); None without a polygon or a cube."""
    if geom is None or pair is None or not pair["cube_url"]:
        return None
    rel = pages.alert_geotiff(a["alert_id"])
    content = cubes.content_of(pair["cube_url"], a.get("cube_version"))
    key = (
        None
        if content is None
        else digest("geotiff", a["alert_id"], a.get("polygon"), pair["cube_url"], content)
    )
    if key is not None and w.ledger.kept(rel, key) is not None:
        return rel
    try:
        lat, lon = cubes.grid(pair["cube_url"])
        payload = _geotiff_bytes(a, geom, lat, lon)
    except (HephaestusError, OSError, KeyError, ValueError) as exc:
        log.warning("alert %s: no GeoTIFF (%s)", a["alert_id"], exc)
        return None
    w.put(rel, payload)
    w.geotiffs += 1
    if key is not None:
        w.ledger.record(rel, key)
    return rel


def _strip_inputs(r: dict, pair: dict | None, cubes: _Cubes) -> str | None:
    """The digest of what a pair's compact image is drawn from (None: unknown, draw it)."""
    if pair is None or not pair["cube_url"] or pair["primary_index"] is None:
        return None
    content = cubes.content_of(pair["cube_url"], r.get("cube_version"))
    if content is None:
        return None
    used = ("cube_url", "primary_index", "secondary_index", "label", "positive")
    return digest("pair", r["uid"], {k: pair.get(k) for k in used}, content)


def _write_pair_strip(
    r: dict, pair: dict | None, cubes: _Cubes, w: _SiteWriter, drawable: bool = True
) -> tuple[str | None, figures.StripGrid | None, str]:
    """(image, its grid, caption) of one scored pair: kept when drawn from the same inputs, else drawn
    (unless not `drawable`: then no image, and the caption says why)."""
    if pair is None or not pair["cube_url"] or pair["primary_index"] is None:
        return None, None, "The catalog lists no cube for this pair: no interferogram to show."
    rel = pages.pair_strip(r["uid"])
    annotated = bool(pair.get("label"))
    caption = (
        "Wrapped phase, coherence (0 black to 255 white) and the annotation's deformation mask (cyan"
        + ("" if annotated else "; pair not annotated")
        + "); the alert's predicted mask outlined in red where the monitor raised one."
    )
    try:
        lat, lon = cubes.grid(pair["cube_url"])
        key = _strip_inputs(r, pair, cubes)
        if key is None or w.ledger.kept(rel, key) is None:
            if not drawable:
                return (
                    None,
                    None,
                    (
                        "No image: this build draws the images of alerted pairs and of the latest cycles' "
                        "pairs only (hmc dashboard --pair-image-cycles)."
                    ),
                )
            i, j = pair["primary_index"], pair["secondary_index"]
            phase, mask, _, _ = cubes.pair(pair["cube_url"], i, j)
            truth = mask if annotated and pair["positive"] else None
            png = figures.pair_strip_png(phase, cubes.coherence(pair["cube_url"], i, j), truth, lat)
            w.put(rel, png)
            w.pair_images += 1
            if key is not None:
                w.ledger.record(rel, key, caption)
    except (HephaestusError, OSError, KeyError, IndexError, ValueError) as exc:
        return None, None, f"The interferogram could not be read: {exc}"
    return rel, figures.strip_grid(lat, lon), caption


def recent_pairs(scores: list[dict], cycles: int | None) -> set[str] | None:
    """The uids whose images a build draws under `pair_image_cycles` (None: every pair's): alerted pairs
    and those scored by the latest `cycles` cycles (distinct `scored_at` stamps)."""
    if cycles is None:
        return None
    stamps = (
        sorted({r["scored_at"] for r in scores if r.get("scored_at") is not None})[-cycles:]
        if cycles > 0
        else []
    )
    latest = set(stamps)
    return {r["uid"] for r in scores if r["alert"] or r.get("scored_at") in latest}


def _write_pair_pages(
    site: data.SiteData, board: list[st.VolcanoStatus], geoms: dict[str, dict | None], tifs: dict[str, str],
    cubes: _Cubes, w: _SiteWriter, drawable: set[str] | None = None,
) -> None:  # fmt: skip
    """Every scored pair's page and compact image, linked to the previous and next pair of its volcano
    (pairs of no volcano: of their frame); `drawable`: the uids whose images may be drawn (None: all)."""
    seen = {r["uid"] for row in board for r in row.scores}
    groups = [(row.volcano, st.pair_sequence(row.scores)) for row in board]
    loose: dict[str, list[dict]] = {}
    for r in site.scores:
        if r["uid"] not in seen:
            loose.setdefault(r["frame_id"], []).append(r)
    groups += [(None, st.pair_sequence(rows)) for rows in loose.values()]
    for volcano, rows in groups:
        for k, r in enumerate(rows):
            pair = site.pair(r["frame_id"], r["primary_date"], r["secondary_date"])
            ok = drawable is None or r["uid"] in drawable
            strip, grid, note = _write_pair_strip(r, pair, cubes, w, ok)
            neighbours = (rows[k - 1] if k > 0 else None, rows[k + 1] if k + 1 < len(rows) else None)
            page = pages.scored_pair_page(
                site, r, volcano, neighbours, strip, grid, note, geoms.get(r["uid"]), tifs.get(r["uid"])
            )
            w.put(pages.pair_page_path(r["uid"]), page)


def _write_alert_page(
    site: data.SiteData, a: dict, geom: dict | None, cubes: _Cubes, w: _SiteWriter, skipped: list[str]
) -> str | None:
    """One alert's page, its pair image and its GeoTIFF: the previous build's files kept when their
    inputs are the same, else drawn; an image that cannot be drawn is named in `skipped` and the page
    says why. Returns the GeoTIFF's path (None: none written)."""
    page = pages.alert_page(a["alert_id"])
    pair = site.pair(a["frame_id"], a["primary_date"], a["secondary_date"])
    tif = _write_geotiff(a, pair, geom, cubes, w)
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
    w.put(page, pages.pair_page(site, a, image, caption, pair, site.volcano_of(a), tif))
    return tif


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


def _write_version(
    site: data.SiteData, w: _SiteWriter, say: Callable[[str], None], pair_image_cycles: int | None
) -> list[str]:
    """Every file of one version (the images kept from the previous version copied in), the board last.
    Returns the alerts whose image could not be drawn."""
    for name, payload in assets.site_assets().items():
        w.put(f"{pages.ASSETS}/{name}", payload)

    geoms = {a["alert_id"]: _polygon(a["polygon"], f"alert {a['alert_id']}") for a in site.alerts}
    board = st.board(site)
    index = pages.index_page(site, geoms)  # rendered first: a page that cannot render fails the build early

    say(f"{len(site.volcanoes)} volcano timelines")
    _write_volcano_pages(site, board, w)

    say(f"{len(site.alerts)} alert pages")
    cubes = _Cubes()
    skipped: list[str] = []
    tifs: dict[str, str] = {}
    for a in site.alerts:
        tif = _write_alert_page(site, a, geoms[a["alert_id"]], cubes, w, skipped)
        if tif is not None:
            tifs[a["alert_id"]] = tif

    say(f"{len(site.scores)} pair pages")
    _write_pair_pages(site, board, geoms, tifs, cubes, w, recent_pairs(site.scores, pair_image_cycles))

    w.put(f"{pages.DATA}/frames.geojson", json.dumps(frames_geojson(site)))
    w.put(f"{pages.DATA}/alerts.geojson", json.dumps(alerts_geojson(site.alerts, geoms)))
    episodes = pa.Table.from_pylist(site.episodes, schema=episode_table.EPISODE_FIELDS)
    w.put(f"{pages.DATA}/episodes.geojson", json.dumps(episode_table.episodes_geojson(episodes)))

    say(f"STAC view of {len(site.frames)} items")
    _write_stac_pages(site, w)

    if w.ledger.site is not None:  # the images this build keeps: linked or copied from the previous version
        storage.copy_files(w.ledger.site, w.out, w.ledger.kept_paths)
    w.put(MANIFEST, w.ledger.manifest())
    w.put(versions.ENTRY, index)
    return skipped


def build_dashboard(
    store_url: str | os.PathLike[str],
    out_url: str | os.PathLike[str],
    *,
    volcano_table: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    pair_image_cycles: int | None = None,
) -> DashboardReport:
    """Write the static site of a store's published catalog and monitor tables to `out_url`.

    A build writes a whole new version of the site (`SITE/v/<version>/`), then makes it current with one
    atomic write (versions.switch) and removes the versions older than the previous one; a build that
    fails before the switch leaves the previous version current and whole and its own folder removed
    (versions.py). Pages are written every time; an image is drawn only when what it shows changed since
    the previous version (`images.ImageLedger`), else that version's file is kept (linked or copied).
    `pair_image_cycles`: draw pairs' images only for alerted pairs and the latest N cycles' pairs (module
    docstring).
    """
    site = data.load(store_url, volcano_table)
    out = storage.normalize(out_url)
    previous = versions.current_version(out)
    version = versions.new_version()
    root = versions.version_root(out, version)
    w = _SiteWriter(root, ImageLedger(None if previous is None else versions.version_root(out, previous)))
    try:
        skipped = _write_version(site, w, progress or (lambda _msg: None), pair_image_cycles)
        versions.switch(out, version)
    except BaseException:
        versions.abandon(out, version)
        raise
    try:
        versions.prune(out, {version} if previous is None else {version, previous})
    except (HephaestusError, OSError) as exc:  # the new version is current: a leftover is removed later
        log.warning("%s: old versions not removed (%s)", storage.redact(out), exc)
    kept = w.ledger.kept_paths
    return DashboardReport(
        out=out,
        index=storage.join(out, versions.ENTRY),
        root=root,
        version=version,
        frames=len(site.frames),
        volcanoes=len(site.volcanoes),
        alerts=len(site.alerts),
        pages=w.pages,
        images=w.images,
        skipped_images=skipped,
        kept_images=sum(p.endswith(".png") and not p.startswith("pairs/") for p in kept),
        pair_images=w.pair_images,
        kept_pair_images=sum(p.startswith("pairs/") for p in kept),
        geotiffs=w.geotiffs,
        kept_geotiffs=sum(p.endswith(".tif") for p in kept),
        episodes=len(site.episodes),
    )
