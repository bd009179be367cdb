"""The pair index and series table: exact column types, partitions that read alone, plain readers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from catalog_records import annotation

from hephaestus.catalog import catalog_from_annotations, read_pairs, read_series, resolve

# The cross-stage contract (team brief), written out independently of the code under test.
CONTRACT_PAIRS = {
    "unique_id": pa.int64(),
    "frame_id": pa.string(),
    "primary_date": pa.date32(),
    "secondary_date": pa.date32(),
    "split": pa.string(),
    "positive": pa.bool_(),
    "usable": pa.bool_(),
    "has_product": pa.bool_(),
    "cube_url": pa.string(),
    "primary_index": pa.int32(),
    "secondary_index": pa.int32(),
    "height": pa.int32(),
    "width": pa.int32(),
    "label": pa.list_(pa.string()),
    "activity_type": pa.list_(pa.string()),
    "intensity_level": pa.list_(pa.string()),
    "phase": pa.string(),
    "confidence": pa.float32(),
    "corrupted": pa.bool_(),
    "processing_error": pa.int32(),
    "glacier_fringes": pa.int32(),
    "orbital_fringes": pa.int32(),
    "atmospheric_fringes": pa.int32(),
    "low_coherence": pa.bool_(),
    "no_info": pa.bool_(),
    "image_artifacts": pa.bool_(),
    "is_crowd": pa.bool_(),
    "caption": pa.string(),
    "deformation_pixels": pa.int64(),
    "mask_row_min": pa.int32(),
    "mask_row_max": pa.int32(),
    "mask_col_min": pa.int32(),
    "mask_col_max": pa.int32(),
}
CONTRACT_SERIES = {
    "series_id": pa.string(),
    "frame_id": pa.string(),
    "primary_date": pa.date32(),
    "split": pa.string(),
    "positive": pa.bool_(),
    "pair_ids": pa.list_(pa.int64()),
    "length": pa.int32(),
    "cube_url": pa.string(),
}

FRAME_A, FRAME_B = "124D_04854_171313", "144A_SM_REUN_S6"


def _records() -> list[dict]:
    """Two frames; train, val, test and one primary date before the windows (split null)."""
    return [
        annotation(1, FRAME_A, "20180105", "20180117", ["Deformation"]),
        annotation(2, FRAME_A, "20180105", "20180129"),
        annotation(3, FRAME_A, "20190610", "20190622", corrupted=1),
        annotation(4, FRAME_A, "20200101", "20200113", ["Earthquake"]),
        annotation(5, FRAME_B, "20200101", "20200107", processing_error=3),
        annotation(6, FRAME_B, "20131201", "20131213"),  # before 2014: outside every window
        annotation(7, FRAME_B, "20190601", "20190613", no_info=1),
        annotation(8, FRAME_B, "20190601", "20190625", ["Deformation", "Earthquake"]),
    ]


@pytest.fixture()
def small_store(tmp_path: Path, annotations_dir) -> Path:  # type: ignore[no-untyped-def]
    store = tmp_path / "store"
    catalog_from_annotations(annotations_dir(_records()), store)
    return store


def test_pair_columns_have_the_contract_types(small_store: Path) -> None:
    table = read_pairs(small_store)
    for name, typ in CONTRACT_PAIRS.items():
        assert table.schema.field(name).type == typ, name
    series = read_series(small_store)
    for name, typ in CONTRACT_SERIES.items():
        assert series.schema.field(name).type == typ, name


def test_rules_of_each_row(small_store: Path) -> None:
    rows = {r["unique_id"]: r for r in read_pairs(small_store).to_pylist()}
    assert [rows[u]["split"] for u in range(1, 9)] == [
        "train",
        "train",
        "val",
        "test",
        "test",
        None,
        "val",
        "val",
    ]
    assert [rows[u]["positive"] for u in range(1, 9)] == [True, False, False, True, False, False, False, True]
    assert [rows[u]["usable"] for u in range(1, 9)] == [True, True, False, True, False, True, False, True]
    r1 = rows[1]
    assert r1["primary_date"] == dt.date(2018, 1, 5) and r1["secondary_date"] == dt.date(2018, 1, 17)
    assert r1["cube_url"] is None and r1["primary_index"] is None and r1["height"] is None
    # polygon x 10..19, y 20..29 -> pixel centres inside: columns 10..18, rows 20..28
    assert (r1["mask_row_min"], r1["mask_row_max"], r1["mask_col_min"], r1["mask_col_max"]) == (
        20,
        28,
        10,
        18,
    )
    assert r1["deformation_pixels"] == 81
    assert rows[2]["deformation_pixels"] == 0 and rows[2]["mask_row_min"] is None
    assert rows[8]["label"] == ["Deformation", "Earthquake"] and rows[4]["activity_type"] == ["Mogi"]
    assert rows[5]["processing_error"] == 3 and rows[3]["corrupted"] is True


def test_read_pairs_filters_and_null_split(small_store: Path) -> None:
    assert read_pairs(small_store).num_rows == 8
    assert sorted(read_pairs(small_store, split="val")["unique_id"].to_pylist()) == [3, 7, 8]
    assert sorted(read_pairs(small_store, frame_id=FRAME_B)["unique_id"].to_pylist()) == [5, 6, 7, 8]
    assert read_pairs(small_store, split="test", frame_id=FRAME_A)["unique_id"].to_pylist() == [4]
    assert sorted(read_pairs(small_store, usable_only=True)["unique_id"].to_pylist()) == [1, 2, 4, 6, 8]
    assert read_pairs(small_store, frame_id="000X_00000_000000").num_rows == 0


def test_each_split_file_reads_alone_sorted_by_frame_and_dates(small_store: Path) -> None:
    """Default layout: one file per split (null split: hive's default name), rows in frame/date order."""
    base, coll = resolve(small_store)
    root = Path(base) / "index" / "pairs"
    assert coll["hephaestus:partitioning"]["pairs"] == ["split"]
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert files == [
        "split=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
        "split=test/part-0.parquet",
        "split=train/part-0.parquet",
        "split=val/part-0.parquet",
    ]
    val = pq.read_table(root / "split=val" / "part-0.parquet")
    # FRAME_A < FRAME_B; within FRAME_B, 7 and 8 share the primary date and 7's secondary is earlier
    assert val["unique_id"].to_pylist() == [3, 7, 8] and set(val["split"].to_pylist()) == {"val"}
    null = pq.read_table(root / "split=__HIVE_DEFAULT_PARTITION__" / "part-0.parquet")
    assert null["unique_id"].to_pylist() == [6] and null["split"].to_pylist() == [None]
    sorting = pq.ParquetFile(root / "split=val" / "part-0.parquet").metadata.row_group(0).sorting_columns
    names = val.schema.names
    assert [names[c.column_index] for c in sorting] == [
        "frame_id", "primary_date", "secondary_date", "unique_id"
    ]  # fmt: skip


def test_row_groups_hold_whole_frames_so_statistics_prune(tmp_path: Path) -> None:
    """Rows given in any order come out sorted, so each frame's rows are contiguous: with row groups of one
    frame's size, every row group's frame_id min equals its max, and a filtered read touches one group."""
    from hephaestus.catalog import publish
    from hephaestus.catalog.pairs import PAIR_ORDER

    frames = ["003A_00003_000003", "001A_00001_000001", "002A_00002_000002"]
    n = 10
    table = pa.table(
        {
            "unique_id": pa.array(range(3 * n), pa.int64()),
            "frame_id": [frames[i % 3] for i in range(3 * n)],  # interleaved on input
            "primary_date": [dt.date(2020, 1, 1) + dt.timedelta(days=(7 * i) % 30) for i in range(3 * n)],
            "secondary_date": [dt.date(2020, 3, 1)] * (3 * n),
            "split": ["test"] * (3 * n),
        }
    )
    publish.write_partitioned(table, str(tmp_path), ["split"], sort_by=PAIR_ORDER, row_group_rows=n)
    meta = pq.ParquetFile(tmp_path / "split=test" / "part-0.parquet").metadata
    stats = [meta.row_group(i).column(1).statistics for i in range(meta.num_row_groups)]
    assert [(s.min, s.max) for s in stats] == [(f, f) for f in sorted(frames)]
    back = pq.read_table(tmp_path / "split=test" / "part-0.parquet")
    dates = back.filter(pa.compute.field("frame_id") == frames[1])["primary_date"].to_pylist()
    assert dates == sorted(dates)
    sql = f"SELECT count(*) FROM read_parquet('{tmp_path}/**/*.parquet') WHERE frame_id = '{frames[2]}'"
    assert duckdb.sql(sql).fetchall() == [(n,)]


def test_split_frame_layout_still_reads(tmp_path: Path, annotations_dir) -> None:  # type: ignore[no-untyped-def]
    """The former default (one file per split and frame) stays selectable and readable by path."""
    from hephaestus.catalog import CatalogConfig

    store = tmp_path / "store-split-frame"
    cfg = CatalogConfig.build(pair_partitioning="split/frame_id", statistics=False)
    catalog_from_annotations(annotations_dir(_records()), store, config=cfg)
    base, coll = resolve(store)
    root = Path(base) / "index" / "pairs"
    assert coll["hephaestus:partitioning"]["pairs"] == ["split", "frame_id"]
    val_a = pq.read_table(root / "split=val" / f"frame_id={FRAME_A}" / "part-0.parquet")
    assert val_a["unique_id"].to_pylist() == [3]
    assert len(list(root.rglob("*.parquet"))) == 6
    assert sorted(read_pairs(store, frame_id=FRAME_B)["unique_id"].to_pylist()) == [5, 6, 7, 8]
    assert read_pairs(store, split="test", frame_id=FRAME_A)["unique_id"].to_pylist() == [4]
    glob = f"{root}/**/*.parquet"
    rows = duckdb.sql(
        f"SELECT split, count(*) FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY 1"
    )
    assert dict(rows.fetchall()) == {"train": 2, "val": 3, "test": 2, None: 1}


def test_plain_duckdb_pandas_polars_read_the_index(small_store: Path) -> None:
    """No project code: find the version in collection.json, then read with hive partitioning."""
    import json

    coll = json.loads((small_store / "catalog" / "collection.json").read_text())
    pairs_dir = small_store / "catalog" / coll["assets"]["pairs"]["href"]
    glob = f"{pairs_dir}/**/*.parquet"
    expected = {"train": 2, "val": 3, "test": 2, None: 1}

    rows = duckdb.sql(
        f"SELECT split, count(*) AS n, any_value(typeof(primary_date)) AS t FROM read_parquet('{glob}', "
        "hive_partitioning = true) GROUP BY split"
    ).fetchall()
    assert {r[0]: r[1] for r in rows} == expected and {r[2] for r in rows} == {"DATE"}
    sql = f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=1) WHERE split='val' AND positive"
    assert duckdb.sql(sql).fetchall() == [(1,)]

    df = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert df.schema["primary_date"] == pl.Date and df.schema["split"] == pl.String
    assert df.schema["label"] == pl.List(pl.String)
    assert dict(df.group_by("split").len().iter_rows()) == expected

    pdf = pd.read_parquet(pairs_dir, partitioning=None)
    assert len(pdf) == 8 and pdf["split"].isna().sum() == 1
    assert pdf["unique_id"].dtype == "int64" and pdf["positive"].dtype == bool
    assert len(pd.read_parquet(pairs_dir, partitioning=None, filters=[("split", "==", "test")])) == 2
    one = pd.read_parquet(f"{pairs_dir}/split=test", filters=[("frame_id", "==", FRAME_A)])  # README snippet
    assert one["unique_id"].tolist() == [4]
    lazy = pl.scan_parquet(glob, hive_partitioning=True).filter(pl.col("frame_id") == FRAME_B)
    assert sorted(lazy.collect()["unique_id"].to_list()) == [5, 6, 7, 8]

    series_glob = small_store / "catalog" / coll["assets"]["series"]["href"]
    sql = f"SELECT count(*) FROM read_parquet('{series_glob}/**/*.parquet', hive_partitioning=true)"
    assert duckdb.sql(sql).fetchall() == [(read_series(small_store).num_rows,)]


def test_readme_duckdb_snippet_resolves_the_pointer_in_sql(small_store: Path) -> None:
    """The README's plain-DuckDB recipe: the published version is read from collection.json in SQL."""
    con = duckdb.connect()
    con.sql(
        f"SET VARIABLE pairs = (SELECT '{small_store}/catalog/' || assets.pairs.href || '**/*.parquet' "
        f"FROM read_json_auto('{small_store}/catalog/collection.json'))"
    )
    rows = con.sql(
        "SELECT split, count(*) FILTER (positive) AS pos, count(*) AS n "
        "FROM read_parquet(getvariable('pairs'), hive_partitioning = true) WHERE usable GROUP BY split"
    ).fetchall()
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        "train": (1, 2),
        "test": (1, 1),
        "val": (1, 1),
        None: (0, 1),
    }
