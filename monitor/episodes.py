"""Unrest episodes: the alerts of one volcano that overlap in time, as an observatory reads them.

An alert is a pair (primary, secondary) whose interferogram shows deformation. Deformation that persists
shows in every pair spanning it, so one unrest episode raises a chain of alerts whose date intervals overlap
or touch. Rows would flood a bulletin; episodes do not: an alert whose interval starts no later than
`max_gap_days` after the end of the volcano's open episode joins it (updating its latest pair, peak score,
area trend and fringe count), otherwise it opens a new one.

Status of an episode, after a cycle:
- "opened": its first alert was raised in the latest cycle (new unrest since the last cycle);
- "ended": at least `quiet_pairs` scored pairs of the volcano acquired after its last alert did not alert;
- "ongoing": neither.

The key of a volcano is its GVP number when the monitor named one, else the frame (a frame whose nearest
listed volcano is too far names none). Pure functions over the scores and alerts tables (monitor/tables.py):
the cycle recomputes the whole table each time, so a re-run never duplicates or loses an episode.
`hmc monitor` writes it at the end of every cycle (monitor/cycle.py: STORE/monitor/episodes.parquet and
episodes.geojson, `layout.MonitorFiles`) with `latest_cycle` = that cycle's start (`started_at` of
`tables.latest_cycle`), so "opened" means first raised in the latest cycle. Columns: docs/monitoring.md.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa

from hephaestus.train.frame_metrics import as_date

MAX_GAP_DAYS: Final = 36
"""Largest gap (days) between an episode's last secondary date and an alert's primary date that still
continues the episode: three 12-day Sentinel-1 repeats, so one or two pairs that miss do not split it."""
QUIET_PAIRS: Final = 3
"""Scored pairs without an alert, acquired after an episode's last alert, that end it."""

EPISODE_FIELDS: Final = pa.schema(
    [
        pa.field("episode_id", pa.string(), nullable=False),  # KEY:first alert uid (stable across cycles)
        pa.field("volcano", pa.string()),
        pa.field("volcano_number", pa.int32()),
        pa.field("frame_ids", pa.string(), nullable=False),  # frames whose alerts it holds, comma-separated
        pa.field("status", pa.string(), nullable=False),  # opened / ongoing / ended
        pa.field("start_date", pa.date32(), nullable=False),  # earliest primary date of its alerts
        pa.field("end_date", pa.date32(), nullable=False),  # latest secondary date of its alerts
        pa.field("first_uid", pa.string(), nullable=False),  # its first alert's pair (earliest secondary)
        pa.field("latest_uid", pa.string(), nullable=False),  # its latest alert's pair
        pa.field("alerts", pa.int32(), nullable=False),
        pa.field("peak_score", pa.float32(), nullable=False),
        pa.field("peak_area_km2", pa.float64()),
        pa.field("area_trend_km2_per_year", pa.float64()),  # least-squares slope of area over time
        pa.field("max_fringe_count", pa.int32()),
        pa.field("opened_at", pa.timestamp("s", tz="UTC")),  # detection time of its first alert
        pa.field("updated_at", pa.timestamp("s", tz="UTC")),  # detection time of its latest alert
        pa.field("polygon", pa.string()),  # GeoJSON geometry of its largest detection, lon/lat
    ]
)
"""monitor/episodes.parquet (and episodes.geojson): one row per unrest episode, recomputed every cycle."""


@dataclass
class _Episode:
    key: str
    alerts: list[Mapping[str, Any]]

    @property
    def end(self) -> dt.date:
        return max(as_date(a["secondary_date"]) for a in self.alerts)


def volcano_key(row: Mapping[str, Any]) -> str:
    """The volcano an alert or score belongs to: its GVP number, else its frame."""
    number = row.get("volcano_number")
    if number is not None and not (isinstance(number, float) and math.isnan(number)):
        return f"gvp{int(number)}"
    return f"frame:{row['frame_id']}"


def _area_trend(alerts: Sequence[Mapping[str, Any]]) -> float | None:
    """km2 per year: the least-squares slope of the deformed area against the secondary date."""
    points = [
        (as_date(a["secondary_date"]).toordinal() / 365.25, float(a["deformed_area_km2"]))
        for a in alerts
        if a.get("deformed_area_km2") is not None
    ]
    if len({t for t, _ in points}) < 2:
        return None
    t, area = np.array(points).T
    return float(np.polyfit(t, area, 1)[0])


def group_alerts(alerts: Sequence[Mapping[str, Any]], max_gap_days: int = MAX_GAP_DAYS) -> list[_Episode]:
    """Alerts in episodes: per volcano, by primary date, an alert that starts no later than `max_gap_days`
    after the open episode's end joins it."""
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    for a in alerts:
        by_key.setdefault(volcano_key(a), []).append(a)
    out: list[_Episode] = []
    gap = dt.timedelta(days=max_gap_days)
    for key, rows in by_key.items():
        rows = sorted(
            rows, key=lambda a: (as_date(a["primary_date"]), as_date(a["secondary_date"]), a["uid"])
        )
        current: _Episode | None = None
        for a in rows:
            if current is not None and as_date(a["primary_date"]) <= current.end + gap:
                current.alerts.append(a)
            else:
                current = _Episode(key, [a])
                out.append(current)
    return out


def _status(
    episode: _Episode,
    quiet_after: Mapping[str, list[dt.date]],
    latest_cycle: dt.datetime | None,
    quiet_pairs: int,
) -> str:
    if latest_cycle is not None and min(_when(a) for a in episode.alerts) >= latest_cycle:
        return "opened"
    quiet = [d for d in quiet_after.get(episode.key, []) if d > episode.end]
    return "ended" if len(quiet) >= quiet_pairs else "ongoing"


def _when(row: Mapping[str, Any]) -> dt.datetime:
    value = row.get("detected_at")
    if value is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def episodes(
    alerts: pa.Table,
    scores: pa.Table,
    *,
    latest_cycle: dt.datetime | None = None,
    max_gap_days: int = MAX_GAP_DAYS,
    quiet_pairs: int = QUIET_PAIRS,
) -> pa.Table:
    """The episodes table (`EPISODE_FIELDS`) of an alerts table, given the scores table (the quiet pairs
    that end an episode) and the start time of the latest cycle (what is "opened" in it)."""
    quiet_after: dict[str, list[dt.date]] = {}
    for s in scores.to_pylist():
        if not s.get("alert"):
            quiet_after.setdefault(volcano_key(s), []).append(as_date(s["secondary_date"]))
    rows = []
    for ep in group_alerts(alerts.to_pylist(), max_gap_days):
        by_time = sorted(ep.alerts, key=lambda a: (as_date(a["secondary_date"]), as_date(a["primary_date"])))
        first, latest = by_time[0], by_time[-1]
        largest = max(ep.alerts, key=lambda a: a.get("deformed_area_km2") or 0.0)
        areas = [a["deformed_area_km2"] for a in ep.alerts if a.get("deformed_area_km2") is not None]
        fringes = [a["fringe_count"] for a in ep.alerts if a.get("fringe_count") is not None]
        rows.append(
            {
                "episode_id": f"{ep.key}:{first['uid']}",
                "volcano": first.get("volcano"),
                "volcano_number": first.get("volcano_number"),
                "frame_ids": ",".join(sorted({str(a["frame_id"]) for a in ep.alerts})),
                "status": _status(ep, quiet_after, latest_cycle, quiet_pairs),
                "start_date": min(as_date(a["primary_date"]) for a in ep.alerts),
                "end_date": ep.end,
                "first_uid": first["uid"],
                "latest_uid": latest["uid"],
                "alerts": len(ep.alerts),
                "peak_score": max(float(a["score"]) for a in ep.alerts),
                "peak_area_km2": max(areas) if areas else None,
                "area_trend_km2_per_year": _area_trend(ep.alerts),
                "max_fringe_count": max(fringes) if fringes else None,
                "opened_at": min(_when(a) for a in ep.alerts),
                "updated_at": max(_when(a) for a in ep.alerts),
                "polygon": largest.get("polygon"),
            }
        )
    rows.sort(key=lambda r: (r["start_date"], r["episode_id"]))
    return pa.Table.from_pylist(rows, schema=EPISODE_FIELDS)


def episodes_geojson(table: pa.Table) -> dict[str, Any]:
    """The episodes as a GeoJSON FeatureCollection (geometry: the largest detection's outline)."""
    features = []
    for row in table.to_pylist():
        geometry = json.loads(row.pop("polygon")) if row.get("polygon") else None
        props = {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in row.items()}
        features.append(
            {"type": "Feature", "id": props["episode_id"], "geometry": geometry, "properties": props}
        )
    return {"type": "FeatureCollection", "features": features}
