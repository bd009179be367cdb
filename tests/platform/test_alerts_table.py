"""platform.alerts.read_table: the one reader of the monitor's tables (dashboard, monitor)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hephaestus.monitor.tables import SCORE_FIELDS, read_table


def test_absent_table_reads_empty_with_its_schema(tmp_path: Path) -> None:
    table = read_table(str(tmp_path / "scores.parquet"), SCORE_FIELDS)
    assert table.num_rows == 0 and table.schema == SCORE_FIELDS


def test_a_file_written_before_a_column_existed_reads_it_as_nulls(tmp_path: Path) -> None:
    old = pa.table(
        {
            "uid": ["f_20200101_20200113"],
            "frame_id": ["f"],
            "primary_date": [dt.date(2020, 1, 1)],
            "secondary_date": [dt.date(2020, 1, 13)],
            "score": pa.array([0.5], pa.float32()),
            "alert": [False],
        }
    )
    pq.write_table(old, tmp_path / "scores.parquet")
    table = read_table(str(tmp_path / "scores.parquet"), SCORE_FIELDS)
    assert table.schema == SCORE_FIELDS
    row = table.to_pylist()[0]
    assert row["uid"] == "f_20200101_20200113" and row["score"] == 0.5
    assert row["cube_version"] is None and row["volcano_number"] is None
