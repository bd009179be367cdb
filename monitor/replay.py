"""What a replay of real history shows: each annotated episode, its first alert, and the false alerts.

A replay releases a frame's later pairs cycle by cycle to `hmc monitor` (the demo does it on the twin of
real frames). Afterwards the monitor's scores table holds every pair it scored with its alert flag, and
the catalog holds each pair's annotation. Episodes are the frame-level ones of `train.frame_metrics`
(a run of acquisitions whose pairs show annotated deformation, after one that shows none); this module
keeps those that begin on or after the replay's start and pairs each with its first alert, and counts
the alerts on pairs annotated without deformation per volcano-year of the replayed period.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass

from hephaestus import catalog
from hephaestus.catalog import stac
from hephaestus.monitor.tables import SCORE_FIELDS, read_table
from hephaestus.platform import volcanoes
from hephaestus.platform.layout import StoreLayout
from hephaestus.train.frame_metrics import Onset, as_date, episode_onsets, false_alerts_per_volcano_year


@dataclass(frozen=True)
class ReplayedEpisode:
    """One annotated episode of the replayed period and what the monitor made of it."""

    frame_id: str
    volcano: str
    onset: Onset

    @property
    def delay_days(self) -> int | None:
        """Days from the episode's first annotated acquisition to the first alerted one (None: missed)."""
        return None if self.onset.alert_day is None else self.onset.alert_day - self.onset.first_day


@dataclass(frozen=True)
class ReplayReport:
    """The replay table's rows and the false-alert rate of the replayed pairs."""

    since: dt.date
    episodes: list[ReplayedEpisode]
    pairs: int
    alerts: int
    false_alerts: int
    false_alerts_per_volcano_year: float

    def record(self) -> dict[str, object]:
        """The table and its summary as plain JSON values (the demo writes it to ROOT/replay.json)."""
        rate = self.false_alerts_per_volcano_year
        return {
            "since": self.since.isoformat(),
            "episodes": self.rows(),
            "pairs": self.pairs,
            "alerts": self.alerts,
            "false_alerts": self.false_alerts,
            "false_alerts_per_volcano_year": None if math.isnan(rate) else rate,
        }

    def rows(self) -> list[dict[str, object]]:
        """One plain row per episode (what the demo prints and the tests read)."""
        return [
            {
                "volcano": e.volcano,
                "frame_id": e.frame_id,
                "first_annotated": e.onset.first.isoformat(),
                "last_annotated": e.onset.last.isoformat(),
                "first_alert": e.onset.alerted.isoformat() if e.onset.alerted else None,
                "delay_acquisitions": e.onset.delay,
                "delay_days": e.delay_days,
            }
            for e in self.episodes
        ]


def replay_report(store: str, since: dt.date) -> ReplayReport:
    """The replay table of `store`'s monitor: pairs it scored, labelled by the catalog; episodes that
    begin on or after `since` (earlier pairs, scored as history, only tell where an episode began)."""
    scores = read_table(StoreLayout(store).monitor.scores, SCORE_FIELDS).to_pylist()
    labels = {
        (r["frame_id"], as_date(r["primary_date"]), as_date(r["secondary_date"])): bool(r["positive"])
        for r in catalog.read_pairs(store).to_pylist()
        if r.get("label")
    }
    rows = []
    for r in scores:
        key = (r["frame_id"], as_date(r["primary_date"]), as_date(r["secondary_date"]))
        if key in labels:
            rows.append((r, labels[key]))
    frames = [r["frame_id"] for r, _ in rows]
    onsets = episode_onsets(
        [bool(r["alert"]) for r, _ in rows],
        [y for _, y in rows],
        frames,
        [r["secondary_date"] for r, _ in rows],
    )
    names: dict[str, Counter[str]] = {}
    for r, _ in rows:
        if r["volcano"]:
            names.setdefault(r["frame_id"], Counter())[r["volcano"]] += 1
    episodes = [
        ReplayedEpisode(o.frame_id, _name(names.get(o.frame_id), o.frame_id), o)
        for o in onsets
        if o.first >= since
    ]
    recent = [(r, y) for r, y in rows if as_date(r["secondary_date"]) >= since]
    alerts = [bool(r["alert"]) for r, _ in recent]
    rate = (
        false_alerts_per_volcano_year(
            alerts,
            [y for _, y in recent],
            [r["frame_id"] for r, _ in recent],
            [max(as_date(r["primary_date"]), since) for r, _ in recent],
            [r["secondary_date"] for r, _ in recent],
        )
        if recent
        else math.nan
    )
    return ReplayReport(
        since=since,
        episodes=episodes,
        pairs=len(recent),
        alerts=sum(alerts),
        false_alerts=sum(a and not y for a, (_, y) in zip(alerts, recent, strict=True)),
        false_alerts_per_volcano_year=rate,
    )


def _name(counts: Counter[str] | None, frame_id: str) -> str:
    """The volcano its frame's scored pairs name most often; else the volcanoes the frame's STAC item
    lists (a twin's miniature frame holds none of the listed volcanoes' real positions); else its id."""
    if counts:
        return counts.most_common(1)[0][0]
    listed = [volcanoes.display_name(n) for n in stac.frame_names().get(frame_id, [])]
    return ", ".join(listed) or frame_id
