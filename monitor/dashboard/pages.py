"""The dashboard's HTML pages: plain strings, every value escaped, every link relative to the page.

Pages name the elements a reader (or the browser test) looks for: `.frame` paths on the map (one per
STAC item), `a.alert-link` rows of the alert list, `#pair-uid` / `#pair-primary` / `#pair-secondary` on
an alert's pair page, `tr.stac-item` rows of the STAC view.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape

from hephaestus.monitor.dashboard.data import Frame, SiteData, Volcano
from hephaestus.monitor.dashboard.figures import iso
from hephaestus.platform import stac_extension as hx
from hephaestus.platform.layout import safe_name

ASSETS = "assets"
DATA = "data"
SITE_TITLE = "Hephaestus monitoring"


def alert_page(alert_id: str) -> str:
    """An alert's pair page, relative to the site root."""
    return f"alerts/{safe_name(alert_id)}.html"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def layout(title: str, body: str, depth: int, *, scripts: Sequence[str] = ()) -> str:
    """A whole page: header with the site's three views, the body, relative asset links."""
    up = "../" * depth
    js = "".join(f'<script src="{up}{ASSETS}/{_e(s)}"></script>' for s in scripts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} · {SITE_TITLE}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{up}{ASSETS}/site.css">
</head>
<body>
<header><span class="title">{SITE_TITLE}</span>
<a href="{up}index.html">Map &amp; alerts</a>
<a href="{up}stac/index.html">STAC catalog</a></header>
<main>
{body}
</main>
<footer>Static site written by <code>hmc dashboard</code>. Basemap: Natural Earth (public domain), via Cartopy;
see <a href="{up}{ASSETS}/LICENSES.txt">licences</a>.</footer>
{js}
</body>
</html>
"""


def table(headers: Sequence[str], rows: Iterable[str], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f'<table class="{_e(cls)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# map --------------------------------------------------------------------------------------------
def _ring_path(ring: Sequence[Sequence[float]]) -> str:
    pts = [f"{float(x):.5f},{-float(y):.5f}" for x, y, *_ in ring]
    return "M" + " L".join(pts) + " Z"


def geometry_path(geometry: dict | None) -> str:
    """SVG path data (x = lon, y = -lat) of a GeoJSON Polygon or MultiPolygon."""
    if not geometry:
        return ""
    polys = geometry["coordinates"] if geometry.get("type") == "MultiPolygon" else [geometry["coordinates"]]
    if geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return ""
    return " ".join(_ring_path(ring) for poly in polys for ring in poly)


def _centroid(geometry: dict | None) -> tuple[float, float] | None:
    if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return None
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    pts = [p for poly in polys for p in poly[0]]
    return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


def _bounds(data: SiteData) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for f in data.frames:
        if f.bbox:
            xs += [f.bbox[0], f.bbox[2]]
            ys += [f.bbox[1], f.bbox[3]]
    for v in data.volcanoes:
        if v.lat is not None and v.lon is not None:
            xs.append(v.lon)
            ys.append(v.lat)
    if not xs:
        return -180.0, -90.0, 180.0, 90.0
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = max(0.3, 0.15 * max(x1 - x0, y1 - y0))
    return max(-180.0, x0 - pad), max(-90.0, y0 - pad), min(180.0, x1 + pad), min(90.0, y1 + pad)


def map_svg(data: SiteData, alert_geometry: dict[str, dict | None]) -> str:
    """The map: relief image, frame footprints, volcanoes, alerts; clickable; viewBox in degrees."""
    x0, y0, x1, y1 = _bounds(data)
    # keep the box no narrower than 1.6 x its height so the page layout stays a landscape map
    w, h = x1 - x0, y1 - y0
    if w < 1.6 * h:
        x0, w = (x0 + x1) / 2 - 0.8 * h, 1.6 * h
    size = max(w, h) * 0.012
    parts = [
        f'<svg id="map" xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.4f} {-y1:.4f} {w:.4f} {h:.4f}" '
        'preserveAspectRatio="xMidYMid meet" role="img" aria-label="frames, volcanoes and alerts">',
        f'<image href="{ASSETS}/natural-earth.png" x="-180" y="-90" width="360" height="180" '
        'preserveAspectRatio="none"/>',
        '<g id="frames">',
    ]
    for f in data.frames:
        d = geometry_path(f.geometry)
        if not d:
            continue
        marker = ""
        if f.bbox and max(f.bbox[2] - f.bbox[0], f.bbox[3] - f.bbox[1]) < 2 * size:
            # a footprint smaller than a marker at this scale: a square shows where it is
            cx, cy = (f.bbox[0] + f.bbox[2]) / 2, -(f.bbox[1] + f.bbox[3]) / 2
            marker = (
                f'<rect class="frame-marker" x="{cx - size:.5f}" y="{cy - size:.5f}" '
                f'width="{2 * size:.5f}" height="{2 * size:.5f}"/>'
            )
        parts.append(
            f'<a href="{_e(f.page)}">{marker}<path class="frame" data-frame-id="{_e(f.frame_id)}" d="{d}">'
            f"<title>frame {_e(f.frame_id)}</title></path></a>"
        )
    parts.append('</g><g id="volcanoes">')
    for v in data.volcanoes:
        if v.lat is None or v.lon is None:
            continue
        parts.append(
            f'<a href="{_e(v.page)}"><circle class="volcano" data-volcano="{_e(v.name)}" cx="{v.lon:.5f}" '
            f'cy="{-v.lat:.5f}" r="{0.6 * size:.5f}"><title>{_e(v.name)}</title></circle></a>'
        )
    parts.append('</g><g id="alerts">')
    for a in data.alerts:
        c = _centroid(alert_geometry.get(a["alert_id"]))
        if c is None:
            continue
        x, y = c[0] + 1.2 * size, -c[1] - 1.2 * size  # up and right of the frame, which stays visible
        tri = f"M{x:.5f},{y - 1.2 * size:.5f} L{x + size:.5f},{y + 0.7 * size:.5f} L{x - size:.5f},{y + 0.7 * size:.5f} Z"
        parts.append(
            f'<a href="{_e(alert_page(a["alert_id"]))}"><path class="alert" data-alert-id="{_e(a["alert_id"])}" '
            f'd="{tri}"><title>alert {_e(a["alert_id"])}: {_e(a["volcano"])} {iso(a["primary_date"])} → '
            f"{iso(a['secondary_date'])}</title></path></a>"
        )
    parts.append("</g></svg>")
    return "".join(parts)


# pages ------------------------------------------------------------------------------------------
def _alert_rows(alerts: Iterable[dict], up: str) -> list[str]:
    rows = []
    for a in alerts:
        rows.append(
            "<tr>"
            f'<td><a class="alert-link" data-alert-id="{_e(a["alert_id"])}" '
            f'href="{up}{_e(alert_page(a["alert_id"]))}">{_e(a["alert_id"])}</a></td>'
            f"<td>{_e(a['volcano'])}</td><td>{_e(a['frame_id'])}</td>"
            f"<td>{iso(a['primary_date'])}</td><td>{iso(a['secondary_date'])}</td>"
            f"<td>{_fmt(a['score'])}</td><td>{_fmt(a['deformed_area_km2'], 2)}</td>"
            f"<td>{_fmt(a['fringe_count'])}</td><td>{_e(a['intensity'])}</td></tr>"
        )
    return rows


ALERT_HEADERS = ["alert (pair uid)", "volcano", "frame", "primary", "secondary", "score", "area km²"]
ALERT_HEADERS += ["fringes", "intensity"]


def index_page(data: SiteData, alert_geometry: dict[str, dict | None]) -> str:
    volcano_rows = []
    for v in data.volcanoes:
        n_scores = sum(1 for r in data.scores if data.volcano_of(r) is v)
        n_alerts = sum(1 for r in data.alerts if data.volcano_of(r) is v)
        volcano_rows.append(
            f'<tr><td><a class="volcano-link" href="{_e(v.page)}">{_e(v.name)}</a></td>'
            f"<td>{_e(v.number)}</td><td>{_e(', '.join(sorted(v.frames)))}</td>"
            f"<td>{n_scores}</td><td>{n_alerts}</td></tr>"
        )
    body = f"""<h1>Frames, volcanoes and alerts</h1>
<p class="legend"><span><i class="swatch" style="background:rgba(30,110,220,.35);border-color:#1e6edc"></i>frame ({len(data.frames)})</span>
<span><i class="swatch" style="background:#7a3e00;border-radius:50%"></i>volcano</span>
<span><i class="swatch" style="background:#e4002b"></i>alert ({len(data.alerts)})</span>
<span class="muted">catalog version {_e(data.version)}</span></p>
<div class="mapbar"><button id="zoom-in" type="button">+</button> <button id="zoom-out" type="button">−</button>
<button id="zoom-reset" type="button">reset</button> <span class="muted">wheel to zoom, drag to pan; click a shape</span></div>
{map_svg(data, alert_geometry)}
<p>Download: <a href="{DATA}/frames.geojson">frames.geojson</a> (footprints of the STAC items),
<a href="{DATA}/alerts.geojson">alerts.geojson</a> (the alerts' polygons and properties).</p>
<h2 id="alerts">Alerts ({len(data.alerts)})</h2>
{table(ALERT_HEADERS, _alert_rows(data.alerts, ""), "alerts") if data.alerts else '<p class="muted">No alerts.</p>'}
<h2 id="volcanoes">Volcanoes ({len(data.volcanoes)})</h2>
{table(["volcano", "GVP number", "frames", "scored pairs", "alerts"], volcano_rows, "volcanoes")}
"""
    return layout("Map and alerts", body, 0, scripts=["map.js"])


def volcano_page(data: SiteData, v: Volcano, scores: list[dict], alerts: list[dict], png: str) -> str:
    score_rows = []
    for r in scores:
        link = (
            f'<a href="../{_e(alert_page(r["uid"]))}">{_e(r["uid"])}</a>'
            if r["alert"] and any(a["alert_id"] == r["uid"] for a in alerts)
            else _e(r["uid"])
        )
        score_rows.append(
            f'<tr class="{"alerted" if r["alert"] else ""}"><td>{link}</td><td>{_e(r["frame_id"])}</td>'
            f"<td>{iso(r['primary_date'])}</td><td>{iso(r['secondary_date'])}</td><td>{_fmt(r['score'])}</td>"
            f"<td>{_fmt(r['deformed_area_km2'], 2)}</td><td>{'yes' if r['alert'] else ''}</td></tr>"
        )
    place = f"{v.lat:.3f}°, {v.lon:.3f}°" if v.lat is not None and v.lon is not None else "position unknown"
    frames = ", ".join(
        f'<a href="../{_e(f.page)}">{_e(f.frame_id)}</a>' for f in data.frames if f.frame_id in v.frames
    )
    body = f"""<h1>{_e(v.name)}</h1>
<dl class="facts"><dt>GVP number</dt><dd>{_e(v.number)}</dd><dt>position</dt><dd>{place}</dd>
<dt>frames</dt><dd>{frames or '<span class="muted">none</span>'}</dd></dl>
<h2>Scores over time</h2>
<figure><img src="{_e(png)}" alt="scores of {_e(v.name)} over time, alerts marked"></figure>
<h2>Alerts ({len(alerts)})</h2>
{table(ALERT_HEADERS, _alert_rows(alerts, "../"), "alerts") if alerts else '<p class="muted">No alerts.</p>'}
<h2>Scored pairs ({len(scores)})</h2>
{table(["pair uid", "frame", "primary", "secondary", "score", "area km²", "alert"], score_rows, "scores")}
"""
    return layout(v.name, body, 1)


def pair_page(
    data: SiteData, a: dict, png: str | None, note: str, pair: dict | None, volcano: Volcano | None
) -> str:
    frame = next((f for f in data.frames if f.frame_id == a["frame_id"]), None)
    frame_html = f'<a href="../{_e(frame.page)}">{_e(a["frame_id"])}</a>' if frame else _e(a["frame_id"])
    volcano_html = f'<a href="../{_e(volcano.page)}">{_e(volcano.name)}</a>' if volcano else _e(a["volcano"])
    facts = [
        ("pair uid", f'<span id="pair-uid">{_e(a["uid"])}</span>'),
        ("frame", f'<span id="pair-frame">{frame_html}</span>'),
        ("primary date", f'<span id="pair-primary">{iso(a["primary_date"])}</span>'),
        ("secondary date", f'<span id="pair-secondary">{iso(a["secondary_date"])}</span>'),
        ("volcano", volcano_html),
        ("score", _fmt(a["score"])),
        ("deformed area", f"{_fmt(a['deformed_area_km2'], 2)} km²"),
        ("fringe count", _fmt(a["fringe_count"])),
        ("intensity", _e(a["intensity"])),
        ("checkpoint", _e(a["checkpoint"])),
        ("cube version", _e(a["cube_version"])),
        ("detected at", _e(a["detected_at"])),
    ]
    if pair is not None:
        facts.append(("unique id (pair index)", _e(pair["unique_id"])))
        facts.append(("annotated", "deformation" if pair["positive"] else "no deformation"))
        facts.append(("split", _e(pair["split"])))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    fig = (
        f'<figure><img id="pair-image" src="{_e(png)}" alt="wrapped phase with predicted and true masks">'
        f'<figcaption class="muted">{_e(note)}</figcaption></figure>'
        if png
        else f'<p class="muted">{_e(note)}</p>'
    )
    body = f"""<h1>Alert {_e(a["alert_id"])}</h1>
<dl class="facts">{dl}</dl>
<h2>Interferogram</h2>
{fig}
<h2>Predicted polygon (GeoJSON, lon/lat)</h2>
<pre>{_e(a["polygon"] or "none")}</pre>
"""
    return layout(f"Alert {a['alert_id']}", body, 1)


def _json_value(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return _e(text if len(text) <= 300 else text[:300] + " …")


def stac_index_page(data: SiteData) -> str:
    coll = data.collection
    props = [(k, v) for k, v in coll.items() if k not in ("links", "type")]
    props_rows = [f"<tr><td>{_e(k)}</td><td><code>{_json_value(v)}</code></td></tr>" for k, v in props]
    link_rows = [
        f"<tr><td>{_e(link.get('rel'))}</td><td><code>{_e(link.get('href'))}</code></td>"
        f"<td>{_e(link.get('title'))}</td></tr>"
        for link in coll.get("links", [])
        if link.get("rel") != "item"
    ]
    item_rows = []
    for f in data.frames:
        p = f.item.get("properties", {})
        item_rows.append(
            f'<tr class="stac-item" data-item-id="{_e(f.item.get("id"))}">'
            f'<td><a href="../{_e(f.page)}">{_e(f.item.get("id"))}</a></td>'
            f"<td>{_e(p.get('start_datetime', '')[:10])} – {_e(p.get('end_datetime', '')[:10])}</td>"
            f"<td>{_e(', '.join(p.get(hx.VOLCANOES) or []))}</td><td>{_e(p.get(hx.PAIRS))}</td>"
            f"<td>{_e(p.get(hx.USABLE_PAIRS))}</td><td>{_e(p.get(hx.POSITIVE_PAIRS))}</td>"
            f"<td>{_e(', '.join(sorted(f.item.get('assets', {}))))}</td></tr>"
        )
    body = f"""<h1>STAC collection <code>{_e(coll.get("id"))}</code></h1>
<p>{_e(coll.get("description"))}</p>
<p class="muted">Store <code>{_e(data.store)}</code>, published version <code>{_e(data.version)}</code>;
{data.pairs.num_rows} pairs in the pair index.</p>
<h2>Items ({len(data.frames)})</h2>
{table(["item", "dates", "volcanoes", "pairs", "usable", "positive", "assets"], item_rows, "stac-items")}
<h2>Collection fields</h2>
{table(["field", "value"], props_rows)}
<h2>Links</h2>
{table(["rel", "href", "title"], link_rows)}
"""
    return layout("STAC catalog", body, 1)


def stac_item_page(data: SiteData, f: Frame, pairs: list[dict], alerted: dict[tuple, str]) -> str:
    """An item: its assets, its rows of the pair index (alerted pairs link to their alert, keyed by
    (frame, primary, secondary): the monitor's pair uid need not be the annotation's unique id)."""
    item = f.item
    asset_rows = []
    for key, asset in item.get("assets", {}).items():
        extra = {
            k: v for k, v in asset.items() if k not in ("href", "type", "title", "roles", "table:columns")
        }
        asset_rows.append(
            f'<tr class="stac-asset"><td>{_e(key)}</td><td>{_e(asset.get("title"))}</td>'
            f"<td><code>{_e(asset.get('href'))}</code></td><td>{_e(asset.get('type'))}</td>"
            f"<td>{_e(', '.join(asset.get('roles', [])))}</td><td><code>{_json_value(extra) if extra else ''}</code></td></tr>"
        )
    prop_rows = [
        f"<tr><td>{_e(k)}</td><td><code>{_json_value(v)}</code></td></tr>"
        for k, v in item.get("properties", {}).items()
    ]
    pair_rows = []
    for r in pairs:
        uid = str(r["unique_id"])
        alert_id = alerted.get((f.frame_id, r["primary_date"], r["secondary_date"]))
        cell = f'<a href="../../{_e(alert_page(alert_id))}">{_e(uid)}</a>' if alert_id else _e(uid)
        pair_rows.append(
            f'<tr class="pair-row{" alerted" if alert_id else ""}"><td>{cell}</td>'
            f"<td>{iso(r['primary_date'])}</td><td>{iso(r['secondary_date'])}</td><td>{_e(r['split'])}</td>"
            f"<td>{'yes' if r['positive'] else ''}</td><td>{'yes' if r['usable'] else 'no'}</td>"
            f"<td>{_e(r['deformation_pixels'])}</td></tr>"
        )
    body = f"""<p><a href="../index.html">← collection</a></p>
<h1>STAC item <code>{_e(item.get("id"))}</code></h1>
<dl class="facts"><dt>bbox</dt><dd>{_e(item.get("bbox"))}</dd><dt>geometry</dt><dd>{_e((item.get("geometry") or {}).get("type"))}</dd></dl>
<h2>Assets ({len(item.get("assets", {}))})</h2>
{table(["key", "title", "href", "type", "roles", "more"], asset_rows, "stac-assets")}
<h2>Pair index: frame {_e(f.frame_id)} ({len(pairs)} pairs)</h2>
{table(["unique id", "primary", "secondary", "split", "positive", "usable", "deformation px"], pair_rows, "pairs")}
<h2>Properties</h2>
{table(["property", "value"], prop_rows)}
<details><summary>The item as published (JSON)</summary><pre>{_e(json.dumps(item, indent=1))}</pre></details>
"""
    return layout(f"Item {item.get('id')}", body, 2)
