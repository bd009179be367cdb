"""The status board's rules: each volcano's status, the episode an alert belongs to, the board's order.

A volcano is "new" when one of its episodes was opened by the latest cycle (episode status "opened"),
"ongoing" when one of its episodes is open (status "ongoing"), "quiet" otherwise; the board lists them in
that order, then by the open episode's peak score, then by the latest score, then by name. An alert is
marked new when the latest cycle raised it (`SiteData.new_alerts`): an alert may be new on an ongoing
episode, so the "new" badge and the status are shown side by side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from hephaestus.monitor.dashboard.data import STATUS_ORDER, SiteData, Volcano

EPISODE_STATUS = {"opened": "new", "ongoing": "ongoing", "ended": "ended"}
"""monitor/episodes.py's episode status -> the board's word for it."""


@dataclass
class VolcanoStatus:
    """One row of the board: a volcano, its status and what it rests on."""

    volcano: Volcano
    status: str
    scores: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    episodes: list[dict] = field(default_factory=list)
    new_alerts: int = 0

    @property
    def latest(self) -> dict | None:
        """The latest scored pair (by secondary, then primary date)."""
        return max(self.scores, key=lambda r: (r["secondary_date"], r["primary_date"]), default=None)

    @property
    def open_episode(self) -> dict | None:
        """The latest episode that has not ended."""
        open_ = [e for e in self.episodes if e["status"] != "ended"]
        return max(open_, key=lambda e: (e["start_date"], e["episode_id"]), default=None)


def episode_status(ep: dict) -> str:
    return EPISODE_STATUS.get(str(ep.get("status")), str(ep.get("status")))


def _within(ep: dict, primary: dt.date, secondary: dt.date) -> bool:
    return ep["start_date"] <= primary and secondary <= ep["end_date"]


def episode_of(site: SiteData, alert: dict) -> dict | None:
    """The episode holding an alert: same volcano, the alert's dates inside the episode's (episodes of
    one volcano never overlap: monitor/episodes.py opens a new one only after a gap)."""
    v = site.volcano_of(alert)
    for ep in site.episodes:
        if site.volcano_of(ep) is v and _within(ep, alert["primary_date"], alert["secondary_date"]):
            return ep
    return None


def alert_status(site: SiteData, alert: dict) -> str:
    """ "new" for an alert of the latest cycle, else its episode's status ("ongoing", "ended")."""
    if alert["alert_id"] in site.new_alerts:
        return "new"
    ep = episode_of(site, alert)
    return episode_status(ep) if ep is not None else "ended"


def board(site: SiteData) -> list[VolcanoStatus]:
    """Every volcano of the site with its status, most urgent first (rule: the module docstring)."""
    rows = {v.key: VolcanoStatus(v, "quiet") for v in site.volcanoes}
    for r in site.scores:
        v = site.volcano_of(r)
        if v is not None:
            rows[v.key].scores.append(r)
    for a in site.alerts:
        v = site.volcano_of(a)
        if v is not None:
            rows[v.key].alerts.append(a)
            rows[v.key].new_alerts += a["alert_id"] in site.new_alerts
    for ep in site.episodes:
        v = site.volcano_of(ep)
        if v is not None:
            rows[v.key].episodes.append(ep)
    for row in rows.values():
        states = {episode_status(e) for e in row.episodes}
        row.status = "new" if "new" in states else "ongoing" if "ongoing" in states else "quiet"

    def rank(row: VolcanoStatus) -> tuple:
        ep, latest = row.open_episode, row.latest
        return (
            STATUS_ORDER.index(row.status),
            -(ep["peak_score"] if ep else 0.0),
            -(latest["score"] if latest else 0.0),
            row.volcano.name.lower(),
        )

    return sorted(rows.values(), key=rank)


def frame_status(rows: list[VolcanoStatus]) -> dict[str, str]:
    """Frame id -> the most urgent status of the volcanoes it covers (the map's colours)."""
    out: dict[str, str] = {}
    for row in rows:
        for frame in row.volcano.frames:
            now = out.get(frame)
            if now is None or STATUS_ORDER.index(row.status) < STATUS_ORDER.index(now):
                out[frame] = row.status
    return out


def pair_sequence(rows: list[dict]) -> list[dict]:
    """A volcano's scored pairs in browsing order: by secondary date, primary date, frame."""
    return sorted(rows, key=lambda r: (r["secondary_date"], r["primary_date"], r["frame_id"]))
