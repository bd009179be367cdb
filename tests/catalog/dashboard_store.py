"""A small monitored store for the dashboard tests: three cubes at real volcanoes, a published catalog,
and monitor tables written by hand with the exact schemas of monitor/tables.py and monitor/episodes.py.

The latest cycle (WHEN) scored Kilauea's pairs and raised its alerts; Etna's and Fernandina's were scored a
cycle earlier. The episodes table says, by hand: Kilauea's unrest was opened by the latest cycle (new),
Etna's is ongoing, Fernandina's ended (quiet): the board's order is `BOARD_ORDER`.

The expectations (frames, alerts, their uids and dates) are what this module wrote, not what the
dashboard reads back: the tests compare the site with them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hephaestus.catalog import CatalogConfig, build_catalog, read_pairs
from hephaestus.monitor.episodes import EPISODE_FIELDS
from hephaestus.monitor.tables import ALERT_FIELDS, SCORE_FIELDS
from hephaestus.platform.layout import StoreLayout
from hephaestus.platform.pairs import pair_uid

from factories import write_published_cube

# (frame id, GVP number, GVP name, lat, lon) as in ../shared/data/volcanoes/gvp_holocene.csv
VOLCANO_FRAMES = [
    ("087A_05410_131313", 332010, "Kilauea", 19.421, -155.287),
    ("044A_05127_141414", 211060, "Etna", 37.748, 14.999),
    ("128D_09016_110500", 353010, "Fernandina", -0.37, -91.55),
]
HEIGHT, WIDTH, STEP = 48, 60, 0.001
WHEN = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
"""The latest cycle's time: Kilauea's pairs were scored (and its alerts raised) then."""
EARLIER = WHEN - dt.timedelta(days=12)
"""The cycle before: the other volcanoes' pairs."""
EPISODE_STATUS = {"Kilauea": "opened", "Etna": "ongoing", "Fernandina": "ended"}
AREA_TREND = {"Kilauea": 3.5, "Etna": -1.25, "Fernandina": None}
BOARD_ORDER = ["Kilauea", "Etna", "Fernandina"]
"""new, ongoing, quiet."""


@dataclass(frozen=True)
class MonitoredStore:
    store: Path
    frames: list[str]
    alerts: list[dict]  # rows written to alerts.parquet
    scores: list[dict]
    episodes: list[dict]  # rows written to episodes.parquet


def current_root(site: Path) -> Path:
    """The folder of a local site's current version, read from SITE/current.json here with json (not
    through the dashboard's own code): the files a reader of SITE/index.html is sent to."""
    version = json.loads((site / "current.json").read_text())["version"]
    return site / "v" / version


def set_cube_version(cube: Path, token: str, history: list[str]) -> None:
    """Give a cube the version attributes ingest writes (a rebuild: new token, empty history;
    an append: new token, the old one in the history)."""
    import zarr

    from hephaestus.platform.cube import HISTORY_ATTR, VERSION_ATTR

    group = zarr.open_group(str(cube), mode="r+")
    group.attrs.update({VERSION_ATTR: token, HISTORY_ATTR: history})
    zarr.consolidate_metadata(str(cube))


def _box(r0: int, r1: int, c0: int, c1: int, lat_max: float, lon_min: float) -> dict:
    """The lon/lat polygon of a pixel box of the grid (rows r0..r1, columns c0..c1): its outer pixel edges,
    with pixel centres at lat_max - (r + 0.5) * STEP, lon_min + (c + 0.5) * STEP (platform.cube.grid_coords)."""
    n, s = lat_max - r0 * STEP, lat_max - (r1 + 1) * STEP
    w, e = lon_min + c0 * STEP, lon_min + (c1 + 1) * STEP
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def make_monitored_store(root: Path) -> MonitoredStore:
    store = root / "store"
    (store / "cubes").mkdir(parents=True)
    corner = {}
    for k, (frame, _num, _name, lat, lon) in enumerate(VOLCANO_FRAMES):
        lat_max, lon_min = round(lat + 0.024, 3), round(lon - 0.03, 3)
        corner[frame] = (lat_max, lon_min)
        write_published_cube(
            store / "cubes" / f"{frame}.zarr",
            frame_id=frame,
            height=HEIGHT,
            width=WIDTH,
            seed=k,
            first_id=100 * (k + 1),
            lat_max=lat_max,
            lon_min=lon_min,
        )
    build_catalog(store, CatalogConfig(statistics=False, geoparquet=False))
    volcano = {f: (num, name) for f, num, name, _lat, _lon in VOLCANO_FRAMES}
    scores, alerts = [], []
    false_alarm_done = False
    for row in read_pairs(store).to_pylist():
        num, name = volcano[row["frame_id"]]
        uid = pair_uid(row["frame_id"], row["primary_date"], row["secondary_date"])  # the monitor's pair uid
        alert = bool(row["positive"])
        score = 0.93 if alert else 0.12
        if not alert and not false_alarm_done:  # one false alarm: an alert on a pair annotated negative
            alert, score, false_alarm_done = True, 0.71, True
        base = {
            "uid": uid,
            "frame_id": row["frame_id"],
            "volcano": name,
            "volcano_number": num,
            "primary_date": row["primary_date"],
            "secondary_date": row["secondary_date"],
            "score": score,
            "deformed_area_km2": 1.2 if alert else None,
            "checkpoint": "test-run/checkpoint_000001",
            "cube_version": "v1",
        }
        when = WHEN if name == "Kilauea" else EARLIER
        scores.append({**base, "alert": alert, "scored_at": when})
        if alert:
            lat_max, lon_min = corner[row["frame_id"]]
            if row["positive"]:
                r0, r1, c0, c1 = (
                    row[k] for k in ("mask_row_min", "mask_row_max", "mask_col_min", "mask_col_max")
                )
            else:
                r0, r1, c0, c1 = 5, 15, 5, 20
            alerts.append(
                {
                    **base,
                    "alert_id": uid,
                    "fringe_count": 2,
                    "intensity": "Low",
                    "polygon": json.dumps(_box(r0, r1, c0, c1, lat_max, lon_min)),
                    "detected_at": when,
                }
            )
    files = StoreLayout(store).monitor
    Path(files.url).mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(scores, schema=SCORE_FIELDS), files.scores)
    pq.write_table(pa.Table.from_pylist(alerts, schema=ALERT_FIELDS), files.alerts)
    episodes = _episodes(alerts)
    pq.write_table(
        pa.Table.from_pylist(episodes, schema=EPISODE_FIELDS), Path(files.url) / "episodes.parquet"
    )
    return MonitoredStore(store, [f for f, *_ in VOLCANO_FRAMES], alerts, scores, episodes)


def _episodes(alerts: list[dict]) -> list[dict]:
    """One episode per volcano over all its alerts (they span five weeks), status set by hand."""
    rows = []
    for _frame, num, name, _lat, _lon in VOLCANO_FRAMES:
        mine = sorted((a for a in alerts if a["volcano"] == name), key=lambda a: a["secondary_date"])
        rows.append(
            {
                "episode_id": f"gvp{num}:{mine[0]['uid']}",
                "volcano": name,
                "volcano_number": num,
                "frame_ids": mine[0]["frame_id"],
                "status": EPISODE_STATUS[name],
                "start_date": min(a["primary_date"] for a in mine),
                "end_date": mine[-1]["secondary_date"],
                "first_uid": mine[0]["uid"],
                "latest_uid": mine[-1]["uid"],
                "alerts": len(mine),
                "peak_score": max(a["score"] for a in mine),
                "peak_area_km2": 1.2,
                "area_trend_km2_per_year": AREA_TREND[name],
                "max_fringe_count": 2,
                "opened_at": mine[0]["detected_at"],
                "updated_at": mine[-1]["detected_at"],
                "polygon": mine[-1]["polygon"],
            }
        )
    return rows
