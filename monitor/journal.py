"""The monitor's journal (STORE/monitor/state/) and the write order that makes a cycle restartable.

A scored pair is first written as one small JSON result under state/results/<uid>.json (atomic: a
reader sees it whole or not at all). Results are then folded into the tables in this order:
alerts.parquet, scores.parquet, alerts.geojson, and only then removed. Each table write replaces the
whole file atomically and keeps the rows it already has (rows are keyed by the pair uid), so:

- a run killed before a result is written rescored that pair next time (nothing lost);
- a run killed after it, at any point of the fold, folds the same results again, and rows already in
  a table stay as they are (nothing repeated);
- pairs to score are those of the catalog in neither scores.parquet nor state/results/.

state/cycle.json records the cycle in progress (number, phase, counts, `started_at`) for people, for
`--every` and for the dashboard (`tables.latest_cycle`): a resumed cycle keeps its number and start, and a
new cycle starts later than every row an earlier cycle wrote, so "new in the latest cycle" (rows whose
`cycle` is its number, episodes first raised at or after its start) never takes in an earlier cycle's rows.
The episodes (episodes.parquet, then episodes.geojson) are recomputed from the tables at each cycle's end,
before the cycle is marked done; a run killed before that recomputes them.
state/ingested.json lists the source products the last completed ingest + catalog update covered, so
a cycle with nothing new skips both. HMC_MONITOR_CRASH_AT=<point>[:<n>] kills the process (SIGKILL)
at a named point (the n-th time it is passed), for the restart tests.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hephaestus.monitor.episodes import episodes_geojson
from hephaestus.monitor.tables import ALERT_FIELDS, SCORE_FIELDS, latest_cycle, read_table
from hephaestus.platform import storage
from hephaestus.platform.layout import MonitorFiles

CRASH_ENV = "HMC_MONITOR_CRASH_AT"
_passed: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die here (SIGKILL, as a killed or OOM-killed process) when HMC_MONITOR_CRASH_AT names this point."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _passed[name] += 1
    if _passed[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _arrow_value(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_timestamp(typ):
        return dt.datetime.fromisoformat(value)
    if pa.types.is_date(typ):
        return dt.date.fromisoformat(value)
    return value


def _utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _from_json(row: Mapping[str, Any], schema: pa.Schema) -> dict[str, Any]:
    return {f.name: _arrow_value(row.get(f.name), f.type) for f in schema}


class Journal:
    """The monitor's tables and the state that makes a cycle restartable (see the module docstring)."""

    def __init__(self, files: MonitorFiles) -> None:
        self.files = files
        self.results = storage.join(files.state, "results")
        self.cycle_file = files.cycle
        self.ingested_file = storage.join(files.state, "ingested.json")

    # tables ---------------------------------------------------------------------------------
    def scores(self) -> pa.Table:
        return read_table(self.files.scores, SCORE_FIELDS)

    def alerts(self) -> pa.Table:
        return read_table(self.files.alerts, ALERT_FIELDS)

    def _write(self, url: str, table: pa.Table) -> None:
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        storage.write_bytes_atomic(url, sink.getvalue())

    # results --------------------------------------------------------------------------------
    def _result_urls(self) -> list[str]:
        loc = storage.location(self.results)
        if not loc.fs.isdir(loc.path):
            return []
        names = sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in loc.fs.ls(loc.path, detail=False))
        return [storage.join(self.results, n) for n in names if n.endswith(".json") and not n.startswith(".")]

    def done(self) -> set[str]:
        """Uids scored by any earlier run: in scores.parquet or waiting in state/results/."""
        pending = {u.rsplit("/", 1)[-1][: -len(".json")] for u in self._result_urls()}
        return set(self.scores().column("uid").to_pylist()) | pending

    def record(self, score: Mapping[str, Any], alert: Mapping[str, Any] | None) -> None:
        """Make one scored pair durable before it reaches the tables."""
        uid = storage.safe_component(str(score["uid"]), what="pair uid")
        body = {
            "score": {k: _json_value(v) for k, v in score.items()},
            "alert": None if alert is None else {k: _json_value(v) for k, v in alert.items()},
        }
        storage.write_text_atomic(storage.join(self.results, f"{uid}.json"), json.dumps(body))
        crash_point("recorded")

    def fold(self) -> tuple[int, int]:
        """Move every waiting result into the tables; returns (score rows, alert rows) added."""
        urls = self._result_urls()
        if not urls:
            return 0, 0
        bodies = [json.loads(storage.read_bytes(u)) for u in urls]
        alerts = _merge(
            self.alerts(), [_from_json(b["alert"], ALERT_FIELDS) for b in bodies if b["alert"]], "alert_id"
        )
        self._write(self.files.alerts, alerts.table)
        crash_point("alerts-written")
        scores = _merge(self.scores(), [_from_json(b["score"], SCORE_FIELDS) for b in bodies], "uid")
        self._write(self.files.scores, scores.table)
        crash_point("scores-written")
        self.write_geojson(alerts.table)
        crash_point("geojson-written")
        for u in urls:
            storage.remove(u, recursive=False)
        return scores.added, alerts.added

    def write_geojson(self, alerts: pa.Table) -> None:
        """alerts.geojson: the alerts table as a FeatureCollection (properties: every column but polygon)."""
        features = []
        for row in alerts.to_pylist():
            geometry = json.loads(row.pop("polygon")) if row.get("polygon") else None
            features.append(
                {"type": "Feature", "id": row["alert_id"], "geometry": geometry,
                 "properties": {k: _json_value(v) for k, v in row.items()}}
            )  # fmt: skip
        body = {"type": "FeatureCollection", "features": features}
        storage.write_text_atomic(self.files.alerts_geojson, json.dumps(body, indent=1))

    def write_episodes(self, table: pa.Table) -> None:
        """episodes.parquet and episodes.geojson (monitor/episodes.py), each replaced atomically."""
        self._write(self.files.episodes, table)
        crash_point("episodes-written")
        body = json.dumps(episodes_geojson(table), indent=1)
        storage.write_text_atomic(self.files.episodes_geojson, body)

    # cycle state ----------------------------------------------------------------------------
    def cycle(self) -> dict[str, Any]:
        """The last cycle's record ({} before the first)."""
        return latest_cycle(self.files)

    def begin(self) -> int:
        """Start a cycle: a new number unless the last one did not finish (then it resumes, with its
        number and start time). A new cycle's start is later than the last record of the one before."""
        last = self.cycle()
        resume = bool(last) and last.get("phase") != "done"
        number = int(last.get("cycle", 0)) + (0 if resume else 1)
        info: dict[str, Any] = {}
        if not (resume and last.get("started_at")):
            start = dt.datetime.now(dt.UTC).replace(microsecond=0)
            if last.get("updated"):
                start = max(start, _utc(last["updated"]) + dt.timedelta(seconds=1))
            info["started_at"] = start.isoformat()
        self.phase(number, "started", **info)
        return number

    def started(self) -> dt.datetime:
        """When the cycle in progress started (resumed cycles: the first run's start)."""
        value = self.cycle().get("started_at")
        return _utc(value) if value else dt.datetime.now(dt.UTC).replace(microsecond=0)

    def phase(self, number: int, phase: str, **info: Any) -> None:
        record = self.cycle() if self.cycle().get("cycle") == number else {"cycle": number}
        record.update(info, phase=phase, updated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        storage.write_text_atomic(self.cycle_file, json.dumps(record, indent=1, default=str))
        crash_point(phase)

    def ingested(self) -> set[str]:
        if not storage.exists(self.ingested_file):
            return set()
        return set(json.loads(storage.read_bytes(self.ingested_file)))

    def mark_ingested(self, products: Iterable[str]) -> None:
        storage.write_text_atomic(self.ingested_file, json.dumps(sorted(products)))


class _Merged:
    def __init__(self, table: pa.Table, added: int) -> None:
        self.table = table
        self.added = added


def _merge(existing: pa.Table, rows: list[dict[str, Any]], key: str) -> _Merged:
    """`existing` with the rows whose key it lacks appended (first row of a key wins), sorted by key."""
    have = set(existing.column(key).to_pylist())
    new: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row[key] not in have and row[key] not in new:
            new[row[key]] = row
    table = pa.concat_tables([existing, pa.Table.from_pylist(list(new.values()), schema=existing.schema)])
    return _Merged(table.sort_by([(key, "ascending")]), len(new))
