"""Alerts of a volcano that overlap in time form one unrest episode (issue 24, item 2)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from hephaestus.monitor.episodes import EPISODE_FIELDS, episodes, episodes_geojson

D = dt.date
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


def _alert(
    uid: str, p: dt.date, s: dt.date, score: float, area: float, when: dt.datetime, number: int = 1
) -> dict:
    return {
        "uid": uid,
        "frame_id": "F",
        "volcano": "Sierra Negra",
        "volcano_number": number,
        "primary_date": p,
        "secondary_date": s,
        "score": score,
        "deformed_area_km2": area,
        "fringe_count": 2,
        "polygon": None,
        "detected_at": when,
    }


def _score(uid: str, p: dt.date, s: dt.date, alert: bool, number: int = 1) -> dict:
    return {
        "uid": uid,
        "frame_id": "F",
        "volcano_number": number,
        "primary_date": p,
        "secondary_date": s,
        "alert": alert,
    }


def test_overlapping_alerts_are_one_episode_and_a_late_one_opens_another() -> None:
    alerts = pa.Table.from_pylist(
        [
            # a chain of 12-day pairs: each starts where the last ended -> one episode
            _alert("a", D(2018, 1, 1), D(2018, 1, 13), 0.9, 10.0, T0),
            _alert("b", D(2018, 1, 13), D(2018, 1, 25), 0.95, 20.0, T0),
            _alert("c", D(2018, 2, 18), D(2018, 3, 2), 0.8, 30.0, T0),  # 24 days after b's end: joins
            # 200 days later: a new episode, first raised in the latest cycle
            _alert("d", D(2018, 9, 20), D(2018, 10, 2), 0.7, 5.0, T1),
        ]
    )
    scores = pa.Table.from_pylist(
        [
            _score(u, D(2018, 3, 2) + dt.timedelta(12 * i), D(2018, 3, 14) + dt.timedelta(12 * i), False)
            for i, u in enumerate(("q1", "q2", "q3"))
        ]
    )
    table = episodes(alerts, scores, latest_cycle=T1)
    assert table.schema == EPISODE_FIELDS
    rows = table.to_pylist()
    assert [r["alerts"] for r in rows] == [3, 1]
    first, second = rows
    assert (first["first_uid"], first["latest_uid"]) == ("a", "c")
    assert first["status"] == "ended"  # three quiet pairs after 2018-03-02
    assert second["status"] == "opened"
    assert first["peak_score"] == pytest.approx(0.95) and first["peak_area_km2"] == 30.0
    # area 10, 20, 30 km2 at days 12, 24, 60 after 2018-01-01: slope by hand, km2 per year
    t = [12 / 365.25, 24 / 365.25, 60 / 365.25]
    mt, ma = sum(t) / 3, 20.0
    slope = sum((x - mt) * (y - ma) for x, y in zip(t, (10, 20, 30), strict=True)) / sum(
        (x - mt) ** 2 for x in t
    )
    assert first["area_trend_km2_per_year"] == pytest.approx(slope, rel=1e-6)
    assert (first["start_date"], first["end_date"]) == (D(2018, 1, 1), D(2018, 3, 2))


def test_fewer_quiet_pairs_leave_it_ongoing_and_volcanoes_never_mix() -> None:
    alerts = pa.Table.from_pylist(
        [
            _alert("a", D(2018, 1, 1), D(2018, 1, 13), 0.9, 1.0, T0, number=1),
            _alert("b", D(2018, 1, 1), D(2018, 1, 13), 0.9, 1.0, T0, number=2),
        ]
    )
    scores = pa.Table.from_pylist([_score("q", D(2018, 1, 13), D(2018, 1, 25), False, number=1)])
    rows = episodes(alerts, scores, latest_cycle=T1).to_pylist()
    assert len(rows) == 2 and {r["status"] for r in rows} == {"ongoing"}
    collection = episodes_geojson(episodes(alerts, scores))
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 2
