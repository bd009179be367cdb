"""The monitoring tables: every pair the monitor scored, and the alerts it raised.

`hmc monitor` writes them under `STORE/monitor/` (paths: `layout.StoreLayout.monitor`); `hmc dashboard`
and anyone with DuckDB, pandas or Polars reads them. One row per pair in the scores table and at most one
alert per pair (the alert id is the pair uid), so a re-run of a cycle never duplicates a row.
Polygons are GeoJSON geometry text in lon/lat (EPSG:4326); the alerts GeoJSON file carries the same rows as
Features (properties = every column but `polygon`).
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from hephaestus.platform import storage

SCORE_FIELDS: Final = pa.schema(
    [
        pa.field(
            "uid", pa.string(), nullable=False
        ),  # the pair uid (platform.pairs.pair_uid): FRAME_PRIMARY_SECONDARY
        pa.field("frame_id", pa.string(), nullable=False),
        pa.field("volcano", pa.string()),  # GVP volcano name nearest the frame centre (or the annotation's)
        pa.field("volcano_number", pa.int32()),  # GVP volcano number
        pa.field("primary_date", pa.date32(), nullable=False),
        pa.field("secondary_date", pa.date32(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),  # classifier probability of deformation
        pa.field("deformed_area_km2", pa.float64()),  # area of the segmenter mask
        pa.field("alert", pa.bool_(), nullable=False),  # score and area passed the configured thresholds
        pa.field("checkpoint", pa.string()),  # which trained model scored it (run id / checkpoint name)
        pa.field("cube_version", pa.string()),  # the cube snapshot/version the pair was read from
        pa.field("scored_at", pa.timestamp("s", tz="UTC")),
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
        *[SCORE_FIELDS.field(n) for n in ("uid", "frame_id", "volcano", "volcano_number")],
        *[SCORE_FIELDS.field(n) for n in ("primary_date", "secondary_date", "score", "deformed_area_km2")],
        pa.field("fringe_count", pa.int32()),  # phase cycles (2 pi) across the detected region
        pa.field("intensity", pa.string()),  # "Low" / "Medium" / "High", as the annotations' intensity_level
        pa.field("polygon", pa.string()),  # GeoJSON geometry (Polygon/MultiPolygon), lon/lat
        *[SCORE_FIELDS.field(n) for n in ("checkpoint", "cube_version")],
        pa.field("detected_at", pa.timestamp("s", tz="UTC")),
    ]
)
"""monitor/alerts.parquet (and alerts.geojson): one row per detection, never duplicated by a re-run."""
