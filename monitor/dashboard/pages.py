"""The dashboard's HTML pages: plain strings, every value escaped, every link relative to the page.

Pages name the elements a reader (or the browser test) looks for: `.frame` paths on the map (one per
STAC item, class `status-<status>`), `tr.board-row` rows of the status board (`data-status`),
`a.alert-link` rows of the alert list, `tr.episode-row`, `.badge.new` (new since the last cycle),
`#pair-uid` / `#pair-primary` / `#pair-secondary` on an alert's and a pair's page, `a#prev-pair` /
`a#next-pair` between a volcano's pairs, `a.geotiff` (an alert's predicted mask), `tr.stac-item` rows
of the STAC view. Tables with class `sortable` sort on a header click and `form.filters` filter the rows
of the table they name (assets/board.js: rows carry `data-volcano`, `data-start`, `data-end`,
`data-score`, `data-status`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape

from hephaestus.monitor.dashboard import status as st
from hephaestus.monitor.dashboard.data import STATUS_ORDER, Frame, SiteData, Volcano
from hephaestus.monitor.dashboard.figures import STRIP_PANELS, StripGrid, iso
from hephaestus.platform import stac_extension as hx
from hephaestus.platform.layout import safe_name

ASSETS = "assets"
DATA = "data"
SITE_TITLE = "Hephaestus monitoring"


def alert_page(alert_id: str) -> str:
    """An alert's pair page, relative to the site root."""
    return f"alerts/{safe_name(alert_id)}.html"


def alert_geotiff(alert_id: str) -> str:
    """An alert's predicted mask as a GeoTIFF, relative to the site root."""
    return f"alerts/{safe_name(alert_id)}.tif"


def pair_page_path(uid: str) -> str:
    """A scored pair's page (alerted or not), relative to the site root."""
    return f"pairs/{safe_name(uid)}.html"


def pair_strip(uid: str) -> str:
    """A scored pair's compact image, relative to the site root."""
    return f"pairs/{safe_name(uid)}.png"


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
<a href="{up}index.html">Status board</a>
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


def table(
    headers: Sequence[str | tuple[str, str]], rows: Iterable[str], cls: str = "", table_id: str = ""
) -> str:
    """A table; a header given as (title, type) makes the table sortable in the browser (type "num",
    "date" or "text": how board.js compares the cells' `data-sort` or text)."""
    sortable = any(isinstance(h, tuple) for h in headers)
    head = "".join(
        f'<th data-type="{_e(h[1])}" title="click to sort">{_e(h[0])}</th>'
        if isinstance(h, tuple)
        else f"<th>{_e(h)}</th>"
        for h in headers
    )
    classes = " ".join(c for c in (cls, "sortable" if sortable else "") if c)
    ident = f' id="{_e(table_id)}"' if table_id else ""
    return (
        f'<table class="{_e(classes)}"{ident}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def filters(table_id: str, statuses: Sequence[str], *, dates: bool = True, score: bool = True) -> str:
    """The filter bar of a table (board.js): volcano name, date range, minimum score, status."""
    opts = "".join(f'<option value="{_e(s)}">{_e(s)}</option>' for s in statuses)
    parts = [
        f'<form class="filters" data-table="{_e(table_id)}" autocomplete="off">',
        '<label>volcano <input type="search" name="volcano" placeholder="name"></label>',
    ]
    if dates:
        parts.append('<label>from <input type="date" name="from"></label>')
        parts.append('<label>to <input type="date" name="to"></label>')
    if score:
        parts.append('<label>score ≥ <input type="number" name="score" min="0" max="1" step="0.05"></label>')
    parts.append(f'<label>status <select name="status"><option value="">any</option>{opts}</select></label>')
    parts.append('<button type="reset">clear</button> <output class="count muted"></output></form>')
    return "".join(parts)


def _row_attrs(volcano: str, start: object, end: object, score: object, status: str) -> str:
    """The attributes board.js filters a row on."""
    return (
        f'data-volcano="{_e(str(volcano).lower())}" data-start="{iso(start)}" data-end="{iso(end)}" '  # type: ignore[arg-type]
        f'data-score="{_fmt(score, 4)}" data-status="{_e(status)}"'
    )


def badge(status: str) -> str:
    """A status badge; "new" is the mark of what the latest cycle raised."""
    return f'<span class="badge {_e(status)}">{_e(status)}</span>'


NEW = badge("new")


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
    for v in data.volcanoes if not xs else ():  # the frames' extent; volcanoes only without frames
        if v.lat is not None and v.lon is not None:
            xs.append(v.lon)
            ys.append(v.lat)
    if not xs:
        return -180.0, -90.0, 180.0, 90.0
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = max(0.3, 0.15 * max(x1 - x0, y1 - y0))
    return max(-180.0, x0 - pad), max(-90.0, y0 - pad), min(180.0, x1 + pad), min(90.0, y1 + pad)


def map_svg(
    data: SiteData, alert_geometry: dict[str, dict | None], frame_status: dict[str, str] | None = None
) -> str:
    """The map: relief image, frame footprints (coloured by status), volcanoes, alerts; clickable;
    viewBox in degrees, opening on the frames' extent."""
    frame_status = frame_status or {}
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
        status = frame_status.get(f.frame_id, "quiet")
        if f.bbox and max(f.bbox[2] - f.bbox[0], f.bbox[3] - f.bbox[1]) < 2 * size:
            # a footprint smaller than a marker at this scale: a square shows where it is
            cx, cy = (f.bbox[0] + f.bbox[2]) / 2, -(f.bbox[1] + f.bbox[3]) / 2
            marker = (
                f'<rect class="frame-marker status-{_e(status)}" x="{cx - size:.5f}" y="{cy - size:.5f}" '
                f'width="{2 * size:.5f}" height="{2 * size:.5f}"/>'
            )
        parts.append(
            f'<a href="{_e(f.page)}">{marker}<path class="frame status-{_e(status)}" '
            f'data-frame-id="{_e(f.frame_id)}" data-status="{_e(status)}" d="{d}">'
            f"<title>frame {_e(f.frame_id)}: {_e(status)}</title></path></a>"
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
def _volcano_cell(data: SiteData, row: dict, up: str) -> tuple[str, str]:
    """(name, cell HTML) of the volcano a row names."""
    v = data.volcano_of(row)
    if v is None:
        name = str(row.get("volcano") or "")
        return name, _e(name)
    return v.name, f'<a href="{up}{_e(v.page)}">{_e(v.name)}</a>'


def _alert_rows(data: SiteData, alerts: Iterable[dict], up: str) -> list[str]:
    scored = {r["uid"] for r in data.scores}
    rows = []
    for a in alerts:
        status = st.alert_status(data, a)
        new = a["alert_id"] in data.new_alerts
        name, cell = _volcano_cell(data, a, up)
        pair = (
            f'<a class="pair-link" href="{up}{_e(pair_page_path(a["uid"]))}">pair</a>'
            if a["uid"] in scored
            else ""
        )
        attrs = _row_attrs(name, a["primary_date"], a["secondary_date"], a["score"], status)
        rows.append(
            f'<tr class="alert-row{" new" if new else ""}" {attrs}>'
            f'<td data-sort="{_e(a["alert_id"])}"><a class="alert-link" data-alert-id="{_e(a["alert_id"])}" '
            f'href="{up}{_e(alert_page(a["alert_id"]))}">{_e(a["alert_id"])}</a>{" " + NEW if new else ""}</td>'
            f"<td>{cell}</td><td>{_e(a['frame_id'])}</td>"
            f"<td>{iso(a['primary_date'])}</td><td>{iso(a['secondary_date'])}</td>"
            f'<td data-sort="{_fmt(a["score"], 6)}">{_fmt(a["score"])}</td>'
            f'<td data-sort="{_fmt(a["deformed_area_km2"], 6)}">{_fmt(a["deformed_area_km2"], 2)}</td>'
            f"<td>{_fmt(a['fringe_count'])}</td><td>{_e(a['intensity'])}</td>"
            f"<td>{badge(status)}</td><td>{pair}</td></tr>"
        )
    return rows


ALERT_HEADERS: list[str | tuple[str, str]] = [
    ("alert (pair uid)", "text"),
    ("volcano", "text"),
    ("frame", "text"),
    ("primary", "date"),
    ("secondary", "date"),
    ("score", "num"),
    ("area km²", "num"),
    ("fringes", "num"),
    ("intensity", "text"),
    ("status", "text"),
    "pair",
]
ALERT_STATUSES = ("new", "ongoing", "ended")
EPISODE_HEADERS: list[str | tuple[str, str]] = [
    ("volcano", "text"),
    ("status", "text"),
    ("start", "date"),
    ("latest pair", "date"),
    ("alerts", "num"),
    ("peak score", "num"),
    ("peak area km²", "num"),
    ("area trend km²/yr", "num"),
    ("max fringes", "num"),
    "first alert",
    "latest alert",
]


def _alert_ref(data: SiteData, uid: str, up: str) -> str:
    if any(a["alert_id"] == uid for a in data.alerts):
        return f'<a class="episode-alert" href="{up}{_e(alert_page(uid))}">{_e(uid)}</a>'
    return _e(uid)


def _episode_rows(data: SiteData, episodes: Iterable[dict], up: str) -> list[str]:
    rows = []
    for ep in episodes:
        status = st.episode_status(ep)
        name, cell = _volcano_cell(data, ep, up)
        attrs = _row_attrs(name, ep["start_date"], ep["end_date"], ep["peak_score"], status)
        trend = ep.get("area_trend_km2_per_year")
        rows.append(
            f'<tr class="episode-row{" new" if status == "new" else ""}" '
            f'data-episode-id="{_e(ep["episode_id"])}" {attrs}>'
            f"<td>{cell}</td><td>{badge(status)}</td>"
            f"<td>{iso(ep['start_date'])}</td><td>{iso(ep['end_date'])}</td><td>{_e(ep['alerts'])}</td>"
            f'<td data-sort="{_fmt(ep["peak_score"], 6)}">{_fmt(ep["peak_score"])}</td>'
            f'<td data-sort="{_fmt(ep.get("peak_area_km2"), 6)}">{_fmt(ep.get("peak_area_km2"), 2)}</td>'
            f'<td data-sort="{_fmt(trend, 6)}">{_trend(trend)}</td>'
            f"<td>{_fmt(ep.get('max_fringe_count'))}</td>"
            f"<td>{_alert_ref(data, ep['first_uid'], up)}</td><td>{_alert_ref(data, ep['latest_uid'], up)}</td></tr>"
        )
    return rows


def _trend(value: float | None) -> str:
    if value is None:
        return ""
    arrow = "↑" if value > 0 else "↓" if value < 0 else "→"
    return f"{arrow} {value:+.2f}"


BOARD_HEADERS: list[str | tuple[str, str]] = [
    ("volcano", "text"),
    ("status", "text"),
    ("latest score", "num"),
    ("latest pair", "date"),
    ("episode start", "date"),
    ("episode alerts", "num"),
    ("peak score", "num"),
    ("area trend km²/yr", "num"),
    ("frames", "text"),
]


def _board_rows(rows: list[st.VolcanoStatus]) -> list[str]:
    out = []
    for row in rows:
        v, latest, ep = row.volcano, row.latest, row.open_episode
        attrs = _row_attrs(
            v.name,
            latest["primary_date"] if latest else None,
            latest["secondary_date"] if latest else None,
            latest["score"] if latest else None,
            row.status,
        )
        new = f" {NEW}" if row.new_alerts else ""
        trend = ep.get("area_trend_km2_per_year") if ep else None
        out.append(
            f'<tr class="board-row status-{_e(row.status)}" data-key="{_e(v.key)}" {attrs}>'
            f'<td data-sort="{_e(v.name)}"><a class="volcano-link" href="{_e(v.page)}">{_e(v.name)}</a>{new}</td>'
            f'<td data-sort="{STATUS_ORDER.index(row.status)}">{badge(row.status)}</td>'
            f'<td data-sort="{_fmt(latest["score"], 6) if latest else ""}">{_fmt(latest["score"]) if latest else ""}</td>'
            f"<td>{iso(latest['secondary_date']) if latest else ''}</td>"
            f"<td>{iso(ep['start_date']) if ep else ''}</td><td>{_e(ep['alerts']) if ep else ''}</td>"
            f'<td data-sort="{_fmt(ep["peak_score"], 6) if ep else ""}">{_fmt(ep["peak_score"]) if ep else ""}</td>'
            f'<td data-sort="{_fmt(trend, 6)}">{_trend(trend)}</td>'
            f"<td>{_e(', '.join(sorted(v.frames)))}</td></tr>"
        )
    return out


def _cycle_line(data: SiteData) -> str:
    c = data.cycle
    when = data.latest_cycle.isoformat(timespec="minutes") if data.latest_cycle else "unknown"
    which = (
        f"Latest monitoring cycle {_e(c.get('cycle'))} ({_e(c.get('phase'))}), started {_e(when)}"
        if c
        else f"No cycle in the monitor's journal; latest scores written {_e(when)}"
    )
    return (
        f'<p class="cycle">{which}: '
        f"<strong>{len(data.new_alerts)}</strong> new alert{'s' if len(data.new_alerts) != 1 else ''} "
        f"since the last cycle ({NEW}). Catalog version {_e(data.version)}.</p>"
    )


def index_page(data: SiteData, alert_geometry: dict[str, dict | None]) -> str:
    """The status board: volcanoes by status, the map of frames coloured by status, episodes, alerts."""
    rows = st.board(data)
    counts = {s: sum(r.status == s for r in rows) for s in STATUS_ORDER}
    legend = "".join(f'<span><i class="swatch status-{s}"></i>{s} ({counts[s]})</span>' for s in STATUS_ORDER)
    episodes = sorted(
        data.episodes,
        key=lambda e: (STATUS_ORDER.index(st.episode_status(e)) if st.episode_status(e) in STATUS_ORDER else 9,
                       -e["end_date"].toordinal()),
    )  # fmt: skip
    alerts_html = (
        filters("alerts-table", ALERT_STATUSES) + table(ALERT_HEADERS, _alert_rows(data, data.alerts, ""), "alerts", "alerts-table")
        if data.alerts
        else '<p class="muted">No alerts.</p>'
    )  # fmt: skip
    episodes_html = (
        filters("episodes-table", ALERT_STATUSES)
        + table(EPISODE_HEADERS, _episode_rows(data, episodes, ""), "episodes", "episodes-table")
        if episodes
        else '<p class="muted">No unrest episodes.</p>'
    )
    body = f"""<h1>Status board</h1>
{_cycle_line(data)}
<h2 id="volcanoes">Volcanoes by status ({len(rows)})</h2>
{filters("board-table", STATUS_ORDER)}
{table(BOARD_HEADERS, _board_rows(rows), "board volcanoes", "board-table")}
<h2 id="map-title">Frames by status</h2>
<p class="legend">{legend}<span><i class="swatch" style="background:#7a3e00;border-radius:50%"></i>volcano</span>
<span><i class="swatch" style="background:#e4002b"></i>alert ({len(data.alerts)})</span></p>
<div class="mapbar"><button id="zoom-in" type="button">+</button> <button id="zoom-out" type="button">−</button>
<button id="zoom-reset" type="button">reset</button> <span class="muted">wheel to zoom, drag to pan; click a shape</span></div>
{map_svg(data, alert_geometry, st.frame_status(rows))}
<h2 id="episodes">Unrest episodes ({len(episodes)})</h2>
{episodes_html}
<h2 id="alerts">Alerts ({len(data.alerts)})</h2>
{alerts_html}
<p>Download: <a href="{DATA}/frames.geojson">frames.geojson</a> (footprints of the STAC items),
<a href="{DATA}/alerts.geojson">alerts.geojson</a> (the alerts' polygons and properties),
<a href="{DATA}/episodes.geojson">episodes.geojson</a> (the episodes, outlined by their largest detection).</p>
"""
    return layout("Status board", body, 0, scripts=["map.js", "board.js"])


PAIR_HEADERS: list[str | tuple[str, str]] = [
    ("pair uid", "text"),
    ("frame", "text"),
    ("primary", "date"),
    ("secondary", "date"),
    ("score", "num"),
    ("area km²", "num"),
    ("status", "text"),
    ("annotated", "text"),
    ("split", "text"),
]
PAIR_STATUSES = ("new", "alert", "no alert")


def pair_status(data: SiteData, r: dict) -> str:
    """A scored pair's word on the volcano page: "new" (its alert is of the latest cycle), "alert",
    "no alert"."""
    if r["alert"] and r["uid"] in data.new_alerts:
        return "new"
    return "alert" if r["alert"] else "no alert"


def _annotated(pair: dict | None) -> str:
    if pair is None or not pair.get("label"):
        return "not annotated"
    return "deformation" if pair["positive"] else "no deformation"


def volcano_page(data: SiteData, row: st.VolcanoStatus, png: str, alerts: list[dict] | None = None) -> str:
    """A volcano: status, timeline with episodes shaded, episodes, alerts, every scored pair."""
    v = row.volcano
    alerts = row.alerts if alerts is None else alerts
    score_rows = []
    for r in st.pair_sequence(row.scores):
        status = pair_status(data, r)
        pair = data.pair(r["frame_id"], r["primary_date"], r["secondary_date"])
        attrs = _row_attrs(v.name, r["primary_date"], r["secondary_date"], r["score"], status)
        score_rows.append(
            f'<tr class="pair-row{" alerted" if r["alert"] else ""}" {attrs}>'
            f'<td><a class="pair-link" href="../{_e(pair_page_path(r["uid"]))}">{_e(r["uid"])}</a></td>'
            f"<td>{_e(r['frame_id'])}</td><td>{iso(r['primary_date'])}</td><td>{iso(r['secondary_date'])}</td>"
            f'<td data-sort="{_fmt(r["score"], 6)}">{_fmt(r["score"])}</td>'
            f'<td data-sort="{_fmt(r["deformed_area_km2"], 6)}">{_fmt(r["deformed_area_km2"], 2)}</td>'
            f"<td>{badge(status) if r['alert'] else 'no alert'}</td><td>{_annotated(pair)}</td>"
            f"<td>{_e(pair['split'] if pair else '')}</td></tr>"
        )
    place = f"{v.lat:.3f}°, {v.lon:.3f}°" if v.lat is not None and v.lon is not None else "position unknown"
    frames = ", ".join(
        f'<a href="../{_e(f.page)}">{_e(f.frame_id)}</a>' for f in data.frames if f.frame_id in v.frames
    )
    latest, ep = row.latest, row.open_episode
    latest_html = (
        f'<a href="../{_e(pair_page_path(latest["uid"]))}">{iso(latest["secondary_date"])}</a> '
        f"(score {_fmt(latest['score'])})"
        if latest
        else '<span class="muted">none scored</span>'
    )
    ep_html = (
        f"{badge(st.episode_status(ep))} since {iso(ep['start_date'])}, {ep['alerts']} alerts, "
        f"peak score {_fmt(ep['peak_score'])}, area trend {_trend(ep.get('area_trend_km2_per_year')) or 'n/a'} km²/yr"
        if ep
        else '<span class="muted">none</span>'
    )
    new = (
        f' <span class="new-count">{"" if row.status == "new" else NEW} {row.new_alerts} alert{"s" if row.new_alerts != 1 else ""} '
        "raised by the latest cycle</span>"
        if row.new_alerts
        else ""
    )
    first = st.pair_sequence(row.scores)[:1]
    browse = (
        f'<p><a id="first-pair" href="../{_e(pair_page_path(first[0]["uid"]))}">browse the pairs from the first →</a></p>'
        if first
        else ""
    )
    body = f"""<h1>{_e(v.name)}</h1>
<p class="status-line">{badge(row.status)}{new}</p>
<dl class="facts"><dt>GVP number</dt><dd>{_e(v.number)}</dd><dt>position</dt><dd>{place}</dd>
{f"<dt>note</dt><dd>{_e(v.note)}</dd>" if v.note else ""}
<dt>frames</dt><dd>{frames or '<span class="muted">none</span>'}</dd>
<dt>latest pair</dt><dd>{latest_html}</dd><dt>open episode</dt><dd>{ep_html}</dd></dl>
<h2>Score and deformed area over time</h2>
<figure><img src="{_e(png)}" alt="scores and deformed area of {_e(v.name)} over time, episodes shaded"></figure>
<h2>Unrest episodes ({len(row.episodes)})</h2>
{table(EPISODE_HEADERS, _episode_rows(data, row.episodes, "../"), "episodes", "episodes-table") if row.episodes else '<p class="muted">No unrest episodes.</p>'}
<h2>Alerts ({len(alerts)})</h2>
{table(ALERT_HEADERS, _alert_rows(data, alerts, "../"), "alerts", "alerts-table") if alerts else '<p class="muted">No alerts.</p>'}
<h2 id="pairs">Scored pairs ({len(row.scores)})</h2>
{browse}
{filters("pairs-table", PAIR_STATUSES) if row.scores else ""}
{table(PAIR_HEADERS, score_rows, "scores", "pairs-table")}
"""
    return layout(v.name, body, 1, scripts=["board.js"])


def _overlay(grid: StripGrid, geometry: dict | None) -> str:
    """Inline SVG over a pair's compact image: the predicted mask's outline on the phase and mask panels."""
    if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return ""
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    paths = []
    for panel in (0, 2):
        d = " ".join(
            "M"
            + " L".join(f"{x:.2f},{y:.2f}" for x, y in (grid.pixel(p[0], p[1], panel) for p in ring))
            + " Z"
            for poly in polys
            for ring in poly
        )
        paths.append(f'<path class="predicted" d="{d}"/>')
    return (
        f'<svg class="overlay" viewBox="0 0 {grid.width} {grid.panel_height}" preserveAspectRatio="none" '
        f'aria-hidden="true">{"".join(paths)}</svg>'
    )


def scored_pair_page(
    data: SiteData,
    r: dict,
    volcano: Volcano | None,
    neighbours: tuple[dict | None, dict | None],
    strip: str | None,
    grid: StripGrid | None,
    note: str,
    geometry: dict | None,
    geotiff: str | None,
) -> str:
    """One scored pair, alerted or not: facts, phase / coherence / annotated mask with the predicted
    mask drawn over them, previous and next pair of the volcano."""
    prev, nxt = neighbours
    pair = data.pair(r["frame_id"], r["primary_date"], r["secondary_date"])
    alert = next((a for a in data.alerts if a["alert_id"] == r["uid"]), None)

    def nav(which: str, target: dict | None, text: str) -> str:
        if target is None:
            return f'<span class="muted" id="{which}-none">{text}</span>'
        return (
            f'<a id="{which}-pair" rel="{which}" href="{_e(safe_name(target["uid"]))}.html" '
            f'title="{_e(target["uid"])}">{text}</a>'
        )

    volcano_html = (
        f'<a href="../{_e(volcano.page)}#pairs">{_e(volcano.name)}</a>' if volcano else _e(r["volcano"])
    )
    blocked = r.get("alert_blocked")
    alert_html = (
        f'<a href="../{_e(alert_page(alert["alert_id"]))}">alert {_e(alert["alert_id"])}</a> '
        f"{badge(st.alert_status(data, alert))}"
        if alert
        else "no alert" + (f" (blocked: {_e(blocked)})" if blocked not in (None, False, "") else "")
    )
    facts = [
        ("pair uid", f'<span id="pair-uid">{_e(r["uid"])}</span>'),
        ("frame", f'<span id="pair-frame">{_e(r["frame_id"])}</span>'),
        ("primary date", f'<span id="pair-primary">{iso(r["primary_date"])}</span>'),
        ("secondary date", f'<span id="pair-secondary">{iso(r["secondary_date"])}</span>'),
        (
            "volcano",
            volcano_html
            + (f' <span class="muted">({_e(r["volcano_note"])})</span>' if r.get("volcano_note") else ""),
        ),
        ("score", _fmt(r["score"])),
        ("deformed area", f"{_fmt(r['deformed_area_km2'], 2)} km²"),
        ("alert", alert_html),
        ("annotated", _annotated(pair)),
        ("split", _e(pair["split"] if pair else "")),
        ("usable", _e("" if pair is None else "yes" if pair["usable"] else "no")),
        ("checkpoint", _e(r["checkpoint"])),
        ("cube version", _e(r["cube_version"])),
        ("scored at", _e(r["scored_at"])),
    ]
    if geotiff:
        facts.append(("predicted mask", f'<a class="geotiff" href="../{_e(geotiff)}" download>GeoTIFF</a>'))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    if strip and grid:
        titles = "".join(f"<span>{_e(t)}</span>" for t in STRIP_PANELS)
        fig = (
            f'<figure class="strip"><div class="strip-titles" style="--panels:{len(STRIP_PANELS)}">{titles}</div>'
            f'<div class="strip-box"><img id="pair-image" src="../{_e(strip)}" width="{grid.width}" '
            f'height="{grid.panel_height}" alt="wrapped phase, coherence and annotated mask">'
            f"{_overlay(grid, geometry)}</div>"
            f'<figcaption class="muted">{_e(note)}</figcaption></figure>'
        )
    else:
        fig = f'<p class="muted">{_e(note)}</p>'
    new = f" {NEW}" if alert and alert["alert_id"] in data.new_alerts else ""
    body = f"""<nav class="pairnav">{nav("prev", prev, "← previous pair")} · {volcano_html} · {nav("next", nxt, "next pair →")}</nav>
<h1>Pair {_e(r["uid"])}{new}</h1>
<dl class="facts">{dl}</dl>
<h2>Interferogram</h2>
{fig}
"""
    return layout(f"Pair {r['uid']}", body, 1)


def pair_page(
    data: SiteData,
    a: dict,
    png: str | None,
    note: str,
    pair: dict | None,
    volcano: Volcano | None,
    geotiff: str | None = None,
) -> str:
    """An alert: the pair it was raised on, its episode, the predicted mask (image, GeoTIFF, polygon)."""
    frame = next((f for f in data.frames if f.frame_id == a["frame_id"]), None)
    frame_html = f'<a href="../{_e(frame.page)}">{_e(a["frame_id"])}</a>' if frame else _e(a["frame_id"])
    volcano_html = f'<a href="../{_e(volcano.page)}">{_e(volcano.name)}</a>' if volcano else _e(a["volcano"])
    ep = st.episode_of(data, a)
    facts = [
        ("pair uid", f'<span id="pair-uid">{_e(a["uid"])}</span>'),
        ("frame", f'<span id="pair-frame">{frame_html}</span>'),
        ("primary date", f'<span id="pair-primary">{iso(a["primary_date"])}</span>'),
        ("secondary date", f'<span id="pair-secondary">{iso(a["secondary_date"])}</span>'),
        ("volcano", volcano_html),
        ("status", badge(st.alert_status(data, a))),
        ("score", _fmt(a["score"])),
        ("deformed area", f"{_fmt(a['deformed_area_km2'], 2)} km²"),
        ("fringe count", _fmt(a["fringe_count"])),
        ("intensity", _e(a["intensity"])),
        ("checkpoint", _e(a["checkpoint"])),
        ("cube version", _e(a["cube_version"])),
        ("detected at", _e(a["detected_at"])),
    ]
    if ep is not None:
        facts.append(
            ("episode", f"{badge(st.episode_status(ep))} {iso(ep['start_date'])} → {iso(ep['end_date'])}, "
                        f"{_e(ep['alerts'])} alerts, peak score {_fmt(ep['peak_score'])}")
        )  # fmt: skip
    if any(r["uid"] == a["uid"] for r in data.scores):
        facts.append(
            ("pair page", f'<a class="pair-link" href="../{_e(pair_page_path(a["uid"]))}">browse</a>')
        )
    if geotiff:
        facts.append(("predicted mask", f'<a class="geotiff" href="../{_e(geotiff)}" download>GeoTIFF</a>'))
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
    new = f" {NEW}" if a["alert_id"] in data.new_alerts else ""
    body = f"""<h1>Alert {_e(a["alert_id"])}{new}</h1>
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
