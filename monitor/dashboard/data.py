"""What the dashboard shows, read once from a store: STAC items, the pair index, the monitor's tables
(scores, alerts, episodes), the journal's latest cycle, and the volcanoes (GVP list) they name.

"New since the last cycle" (an alert raised by the latest cycle) is read from the alerts table when the
monitor records it (its `cycle` equals the journal's latest cycle number, monitor/tables.py); otherwise an alert is new when it was detected at or after the start of the latest cycle (the
journal's `started` time, else the latest `scored_at` of the scores table: every row a cycle writes
carries that cycle's one time stamp). Episodes are read from monitor/episodes.parquet, or computed with
`monitor.episodes` from the alerts and scores when the monitor has not written that table yet.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import posixpath
from dataclasses import dataclass, field

import pyarrow as pa

from hephaestus.catalog.read import read_pairs, resolve_version
from hephaestus.monitor import episodes as episode_table
from hephaestus.monitor import tables as alerts
from hephaestus.monitor.journal import Journal
from hephaestus.platform import stac_extension as hx
from hephaestus.platform import storage
from hephaestus.platform.errors import InputError
from hephaestus.platform.layout import MonitorFiles, StoreLayout, safe_name
from hephaestus.platform.volcanoes import GvpVolcano, display_name, name_index, normalise_name, read_table

EPISODES_FILE = "episodes.parquet"
"""The episodes table's name under STORE/monitor/ (monitor/episodes.py), where the layout names none."""
STATUS_ORDER = ("new", "ongoing", "quiet")
"""A volcano's status on the board, most urgent first: unrest first raised in the latest cycle, an open
episode, no open episode."""


class DashboardInputError(InputError):
    """The store's catalog cannot be shown (an item link that leaves the catalog, an unreadable item)."""


@dataclass
class Frame:
    """One STAC item (one cube): its frame id, footprint and the item JSON as published."""

    frame_id: str
    item: dict

    @property
    def geometry(self) -> dict | None:
        return self.item.get("geometry")

    @property
    def bbox(self) -> list[float] | None:
        return self.item.get("bbox")

    @property
    def page(self) -> str:
        """The item's page, relative to the site root."""
        return f"stac/items/{safe_name(self.frame_id)}.html"


@dataclass
class Volcano:
    """A volcano the site shows: from the monitor's tables or an item's volcano list; placed by GVP."""

    name: str
    number: int | None = None
    lat: float | None = None
    lon: float | None = None
    frames: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)
    """Normalised names the tables may use for it (the GVP's "Negra, Sierra" as well as "Sierra Negra")."""
    frame_only: str | None = None
    """Set for a frame whose rows name no volcano: the frame stands in for one."""
    note: str | None = None
    """Why a frame names no volcano (the monitor's `volcano_note`)."""

    @property
    def key(self) -> str:
        if self.number is not None:
            return f"gvp-{self.number}"
        if self.frame_only is not None:
            return f"frame-{safe_name(self.frame_only)}"
        return safe_name(normalise_name(self.name))

    @property
    def page(self) -> str:
        return f"volcanoes/{self.key}.html"


@dataclass
class SiteData:
    store: str
    collection: dict
    version: str
    frames: list[Frame]
    pairs: pa.Table
    scores: list[dict]
    alerts: list[dict]
    volcanoes: list[Volcano]
    episodes: list[dict] = field(default_factory=list)
    new_alerts: set[str] = field(default_factory=set)
    """Alert ids raised by the latest cycle (see the module docstring)."""
    latest_cycle: dt.datetime | None = None
    cycle: dict = field(default_factory=dict)
    """The journal's record of the latest cycle ({} before the first)."""

    def pair(self, frame_id: str, primary: dt.date, secondary: dt.date) -> dict | None:
        """The pair index row of one pair (None when the catalog does not list it)."""
        return self._pair_rows().get((frame_id, primary, secondary))

    def _pair_rows(self) -> dict[tuple[str, dt.date, dt.date], dict]:
        if not hasattr(self, "_rows"):
            cols = ["unique_id", "frame_id", "primary_date", "secondary_date", "cube_url"]
            cols += [
                "primary_index",
                "secondary_index",
                "positive",
                "deformation_pixels",
                "split",
                "usable",
                "label",
            ]
            rows = self.pairs.select(cols).to_pylist()
            self._rows = {(r["frame_id"], r["primary_date"], r["secondary_date"]): r for r in rows}
        return self._rows

    def volcano_of(self, row: dict) -> Volcano | None:
        """The volcano a score, alert or episode row names (by GVP number, else by name, else the frame
        that stands in for a volcano)."""
        for v in self.volcanoes:
            if row.get("volcano_number") is not None and v.number == row["volcano_number"]:
                return v
        name = row.get("volcano")
        if name:
            for v in self.volcanoes:
                if normalise_name(name) in v.aliases:
                    return v
            return None
        frame = row.get("frame_id") or str(row.get("frame_ids") or "").split(",")[0]
        return next((v for v in self.volcanoes if v.frame_only is not None and v.frame_only == frame), None)


def _items(store: str, collection: dict) -> list[Frame]:
    """The published items, in the collection's link order (hrefs are relative to catalog/)."""
    frames = []
    base = StoreLayout(store).catalog
    for link in collection.get("links", []):
        if link.get("rel") != "item":
            continue
        rel = posixpath.normpath(str(link["href"]))
        if rel.startswith(("/", "..")):
            raise DashboardInputError(
                f"{storage.redact(base)}: item link {link['href']!r} leaves the catalog"
            )
        item = _read_json(storage.join(base, *rel.split("/")))
        frame_id = str(item.get("properties", {}).get(hx.FRAME_ID) or item["id"])
        frames.append(Frame(frame_id, item))
    return frames


def _read_json(url: str) -> dict:
    return json.loads(storage.read_bytes(url))


def _volcanoes(
    frames: list[Frame], scores: list[dict], alert_rows: list[dict], gvp: list[GvpVolcano]
) -> list[Volcano]:
    by_number = {v.number: v for v in gvp if v.number is not None}
    by_name = name_index(gvp)
    found: dict[str, Volcano] = {}

    def place(name: str | None, number: int | None, frame_id: str, near: tuple[float, float] | None) -> None:
        ref = by_number.get(number) if number is not None else None
        if ref is None and name:
            cands = by_name.get(normalise_name(name), [])
            if near is not None and cands:
                cands = sorted(cands, key=lambda c: (c.lat - near[0]) ** 2 + (c.lon - near[1]) ** 2)
            ref = cands[0] if cands else None
        written = ref.name if ref else str(name or number)
        v = Volcano(
            display_name(written),
            ref.number if ref else number,
            ref.lat if ref else None,
            ref.lon if ref else None,
        )
        v = found.setdefault(v.key, v)
        v.frames.add(frame_id)
        v.aliases |= {normalise_name(written), normalise_name(v.name)} | (
            {normalise_name(name)} if name else set()
        )

    centres = {}
    for f in frames:
        if f.bbox:
            centres[f.frame_id] = ((f.bbox[1] + f.bbox[3]) / 2, (f.bbox[0] + f.bbox[2]) / 2)
    for row in [*scores, *alert_rows]:
        if row.get("volcano") or row.get("volcano_number") is not None:
            place(
                row.get("volcano"), row.get("volcano_number"), row["frame_id"], centres.get(row["frame_id"])
            )
        else:  # the monitor named no volcano for this frame: the frame stands in for one
            frame = str(row["frame_id"])
            v = Volcano(f"frame {frame} (no listed volcano)", frame_only=frame, frames={frame})
            v = found.setdefault(v.key, v)
            v.note = v.note or row.get("volcano_note")
    for f in frames:
        for name in f.item.get("properties", {}).get(hx.VOLCANOES) or []:
            known = [v for v in found.values() if normalise_name(name) in v.aliases]
            if known:
                known[0].frames.add(f.frame_id)
            else:
                place(name, None, f.frame_id, centres.get(f.frame_id))
    return sorted(found.values(), key=lambda v: normalise_name(v.name))


def _when(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and value:
        try:
            return _when(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def latest_cycle_start(cycle: dict, scores: list[dict]) -> dt.datetime | None:
    """When the latest cycle began: the journal's record when it says, else the latest `scored_at`."""
    for key in ("started_at", "started"):
        when = _when(cycle.get(key))
        if when is not None:
            return when
    stamps = [w for w in (_when(r.get("scored_at")) for r in scores) if w is not None]
    return max(stamps) if stamps else None


def new_alert_ids(alert_rows: list[dict], cycle: dict, latest: dt.datetime | None) -> set[str]:
    """The alerts raised by the latest cycle (rule: the module docstring)."""
    out = set()
    for a in alert_rows:
        if a.get("cycle") is not None and cycle.get("cycle") is not None:
            new = int(a["cycle"]) == int(cycle["cycle"])  # type: ignore[arg-type]
        else:
            when = _when(a.get("detected_at"))
            new = latest is not None and when is not None and when >= latest
        if new:
            out.add(str(a["alert_id"]))
    return out


def _episodes_url(files: MonitorFiles) -> str:
    """monitor/episodes.parquet, where the layout names it (else its documented name)."""
    return str(getattr(files, "episodes", None) or storage.join(files.url, EPISODES_FILE))


def load(store_url: str | os.PathLike[str], volcano_table: str | os.PathLike[str] | None = None) -> SiteData:
    """Everything the site shows, from the published catalog version and the monitor's tables."""
    store = storage.normalize(store_url)
    version, collection = resolve_version(store)
    frames = _items(store, collection)
    monitor = StoreLayout(store).monitor
    score_table = alerts.read_table(monitor.scores, alerts.SCORE_FIELDS)
    alert_table = alerts.read_table(monitor.alerts, alerts.ALERT_FIELDS)
    scores, alert_rows = score_table.to_pylist(), alert_table.to_pylist()
    cycle = Journal(monitor).cycle()
    latest = latest_cycle_start(cycle, scores)
    episodes_url = _episodes_url(monitor)
    if storage.exists(episodes_url):
        episode_rows = alerts.read_table(episodes_url, episode_table.EPISODE_FIELDS).to_pylist()
    else:  # a monitor that does not write the table yet: the same rule, applied here
        episode_rows = episode_table.episodes(alert_table, score_table, latest_cycle=latest).to_pylist()
    gvp = read_table(volcano_table) if volcano_table is not None else []
    scores.sort(key=lambda r: (r["frame_id"], r["secondary_date"], r["primary_date"]))
    alert_rows.sort(key=lambda r: (r["secondary_date"], r["frame_id"], r["primary_date"]), reverse=True)
    return SiteData(
        store=store,
        collection=collection,
        version=version.version,
        frames=frames,
        pairs=read_pairs(store),
        scores=scores,
        alerts=alert_rows,
        volcanoes=_volcanoes(frames, scores, alert_rows, gvp),
        episodes=episode_rows,
        new_alerts=new_alert_ids(alert_rows, cycle, latest),
        latest_cycle=latest,
        cycle=cycle,
    )
