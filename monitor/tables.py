"""The monitoring tables: every pair the monitor scored, and the alerts it raised.

`hmc monitor` writes them under `STORE/monitor/` (paths: `layout.StoreLayout.monitor`); `hmc dashboard`
and anyone with DuckDB, pandas or Polars reads them (`read_table`). One row per pair in the scores table and
at most one alert per pair (the alert id is the pair uid), so a re-run of a cycle never duplicates a row.
Polygons are GeoJSON geometry text in lon/lat (EPSG:4326); the alerts GeoJSON file carries the same rows as
Features (properties = every column but `polygon`). The episodes table (monitor/episodes.py) is recomputed
from these two every cycle. docs/monitoring.md has every column of the three, with its type and meaning.

Rows are never rewritten once in a table: a row's `cycle` is the monitoring cycle that first scored the pair
(raised the alert). "New since the last cycle" is `cycle == latest_cycle(files)["cycle"]`: the number of the
latest cycle (state/cycle.json, `latest_cycle`), which may have raised nothing. A pair's `alert_blocked` says
why it could not alert whatever its score (monitor/baseline.py): null (it could; it did iff `alert`),
"unusable" (the catalog's `usable` is false), "training_pair" (a train or validation pair of the checkpoint's
split scheme, acquired before its training data ended), "before_since" (acquired before the start date:
`--since`, by default the day after the checkpoint's training data; the backlog a first cycle scores).
Volcanoes are named as people write them ("Sierra Negra", platform/volcanoes.py `display_name`) and only
when the listed volcano lies inside the pair's frame; otherwise `volcano` is null and `volcano_note` says
why ("nearest listed volcano Domuyo is 42 km outside the frame").
"""

from __future__ import annotations

import json
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from hephaestus.platform import storage
from hephaestus.platform.layout import MonitorFiles

SCORE_FIELDS: Final = pa.schema(
    [
        pa.field(
            "uid", pa.string(), nullable=False
        ),  # the pair uid (platform.pairs.pair_uid): FRAME_PRIMARY_SECONDARY
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("volcano", pa.string()),  # listed volcano inside the frame nearest the detection, as written
        pa.field("volcano_number", pa.int32()),  # its GVP volcano number
        pa.field(
            "volcano_note", pa.string()
        ),  # why `volcano` is null ("nearest listed volcano X is N km ...")
        pa.field("primary_date", pa.date32(), nullable=False),
        pa.field("secondary_date", pa.date32(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),  # classifier probability of deformation
        pa.field("deformed_area_km2", pa.float64()),  # area of the segmenter mask
        pa.field("alert", pa.bool_(), nullable=False),  # raised an alert (thresholds passed, not blocked)
        pa.field("alert_blocked", pa.string()),  # null / "unusable" / "training_pair" / "before_since"
        pa.field("checkpoint", pa.string()),  # which trained model scored it (run id / checkpoint name)
        pa.field("cube_version", pa.string()),  # the cube snapshot/version the pair was read from
        pa.field("scored_at", pa.timestamp("s", tz="UTC")),
        pa.field("cycle", pa.int32()),  # the monitoring cycle that scored it (null: before cycles were kept)
    ]
)
"""monitor/scores.parquet: one row per pair the monitor scored (the dashboard's timelines)."""


def read_table(url: str, schema: pa.Schema) -> pa.Table:
    """One of the monitor's tables (any storage URL) in `schema`: empty when not written yet; a column
    the file lacks (written before the schema gained it) reads as nulls."""
    loc = storage.location(url)
    if not loc.fs.exists(loc.path):
        return schema.empty_table()
    with loc.fs.open(loc.path, "rb") as fh:
        table = pq.read_table(fh)
    for name in schema.names:
        if name not in table.column_names:
            table = table.append_column(schema.field(name), pa.nulls(table.num_rows, schema.field(name).type))
    return table.select(schema.names).cast(schema)


ALERT_FIELDS: Final = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),  # == uid: one alert per pair, ever
        *[SCORE_FIELDS.field(n) for n in ("uid", "frame_id", "volcano", "volcano_number", "volcano_note")],
        *[SCORE_FIELDS.field(n) for n in ("primary_date", "secondary_date", "score", "deformed_area_km2")],
        pa.field("fringe_count", pa.int32()),  # phase cycles (2 pi) across the detected region
        pa.field("intensity", pa.string()),  # "Low" / "Medium" / "High", as the annotations' intensity_level
        pa.field("polygon", pa.string()),  # GeoJSON geometry (Polygon/MultiPolygon), lon/lat
        *[SCORE_FIELDS.field(n) for n in ("checkpoint", "cube_version")],
        pa.field("detected_at", pa.timestamp("s", tz="UTC")),
        SCORE_FIELDS.field("cycle"),  # the cycle that raised it (new since the last: the latest cycle)
    ]
)
"""monitor/alerts.parquet (and alerts.geojson): one row per detection, never duplicated by a re-run."""


def latest_cycle(files: MonitorFiles) -> dict[str, Any]:
    """The latest monitoring cycle's record ({} before the first): `cycle` (its number: alerts and scores
    whose `cycle` equals it are new since the cycle before), `phase` ("done" once it finished), `started_at`
    (ISO 8601 UTC: episodes first raised at or after it are "opened") and its counts."""
    if not storage.exists(files.cycle):
        return {}
    record: dict[str, Any] = json.loads(storage.read_bytes(files.cycle))
    return record
