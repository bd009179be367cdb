"""Query the catalog with DuckDB (API and CLI), locally, on S3 (moto server) and on GCS (emulator)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from catalog_records import annotation, write_annotations
from typer.testing import CliRunner

from hephaestus.catalog import (
    CatalogConfig,
    build_catalog,
    catalog_from_annotations,
    query,
    read_pairs,
    read_series,
)
from hephaestus.platform import storage

from factories import write_published_cube

FRAMES = ("124D_04854_171313", "144A_SM_REUN_S6")


def _records() -> list[dict]:
    """12 pairs: 2 frames x 2 primaries (train 2018, test 2020) x 3 secondaries; 1, 7 positive."""
    out = []
    uid = 1
    for frame in FRAMES:
        for primary in ("20180105", "20200105"):
            for k, secondary in enumerate(("17", "23", "29")):
                label = ["Deformation"] if uid in (1, 7) else None
                out.append(
                    annotation(uid, frame, primary, f"{primary[:6]}{secondary}", label, is_crowd=k % 2)
                )
                uid += 1
    return out


def _app() -> typer.Typer:
    from hephaestus.cli.app import app

    return app


def _check_store(store: str) -> None:
    assert sorted(read_pairs(store)["unique_id"].to_pylist()) == list(range(1, 13))
    assert read_pairs(store, split="test", frame_id=FRAMES[1])["unique_id"].to_pylist() == [10, 11, 12]
    series = read_series(store)
    assert series.num_rows == 4 and sorted(series["positive"].to_pylist()) == [False, False, True, True]
    got = query(
        store,
        "SELECT split, count(*) AS n, count(*) FILTER (positive) AS pos FROM pairs GROUP BY 1 ORDER BY 1",
    )
    assert got.to_pylist() == [{"split": "test", "n": 6, "pos": 0}, {"split": "train", "n": 6, "pos": 2}]
    got = query(store, "SELECT count(*) AS n FROM series WHERE split = 'train' AND positive")
    assert got.to_pylist() == [{"n": 2}]


@pytest.fixture()
def records_dir(tmp_path: Path) -> Path:
    return write_annotations(tmp_path / "annotations", _records())


def test_query_local_api_and_cli(tmp_path: Path, records_dir: Path) -> None:
    store = str(tmp_path / "store")
    runner = CliRunner()
    result = runner.invoke(_app(), ["catalog", "from-annotations", str(records_dir), "--out", store])
    assert result.exit_code == 0, result.output
    _check_store(store)
    table = query(store, "SELECT unique_id, label FROM pairs WHERE positive ORDER BY unique_id")
    assert isinstance(table, pa.Table) and table.to_pylist() == [
        {"unique_id": 1, "label": ["Deformation"]},
        {"unique_id": 7, "label": ["Deformation"]},
    ]

    sql = "SELECT frame_id, count(*) AS n FROM pairs GROUP BY frame_id ORDER BY frame_id"
    result = runner.invoke(_app(), ["catalog", "query", store, sql, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert list(csv.DictReader(io.StringIO(result.output))) == [{"frame_id": f, "n": "6"} for f in FRAMES]

    out = tmp_path / "q.parquet"
    sql = "SELECT unique_id, pair_ids FROM pairs, series WHERE unique_id = pair_ids[1]"
    result = runner.invoke(_app(), ["catalog", "query", store, sql, "-f", "parquet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 4

    result = runner.invoke(
        _app(), ["catalog", "query", store, "SELECT series_id, pair_ids FROM series LIMIT 1"]
    )
    assert result.exit_code == 0 and "series_id" in result.output

    result = runner.invoke(_app(), ["catalog", "query", store, "SELECT nope FROM pairs"])
    assert result.exit_code == 2 and "query failed" in result.output and "Traceback" not in result.output


def test_malformed_annotation_is_named_by_the_cli(tmp_path: Path, records_dir: Path) -> None:
    (records_dir / "77.json").write_text('{"uniqueID": 77,')
    bad_field = annotation(78)
    bad_field["label"] = "Deformation"
    write_annotations(records_dir, [bad_field])
    result = CliRunner().invoke(
        _app(), ["catalog", "from-annotations", str(records_dir), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "77.json" in result.output and "not valid JSON" in result.output
    result = CliRunner().invoke(
        _app(), ["catalog", "from-annotations", str(records_dir), "--out", str(tmp_path / "s"), "--skip-bad"]
    )  # both bad files set aside and named, every good one kept (files are read in name order)
    assert result.exit_code == 0 and "77.json" in result.output and "78.json" in result.output
    assert read_pairs(tmp_path / "s").num_rows == 12
    (records_dir / "77.json").unlink()
    result = CliRunner().invoke(
        _app(), ["catalog", "from-annotations", str(records_dir), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "78.json" in result.output and "label must be a list" in result.output


def test_unsafe_frame_id_is_refused(tmp_path: Path) -> None:
    from hephaestus.catalog import AnnotationError

    folder = write_annotations(tmp_path / "a", [annotation(1, frame="../../etc")])
    with pytest.raises(AnnotationError, match="frameID"):
        catalog_from_annotations(folder, tmp_path / "store")


def test_catalog_on_s3(s3_bucket: str, records_dir: Path) -> None:
    store = f"{s3_bucket}/store"
    catalog_from_annotations(records_dir, store)
    _check_store(store)
    result = CliRunner().invoke(
        _app(), ["catalog", "query", store, "SELECT count(*) AS n FROM pairs", "-f", "csv"]
    )
    assert result.exit_code == 0 and list(csv.reader(io.StringIO(result.output))) == [["n"], ["12"]]
    catalog_from_annotations(records_dir, store)  # rebuild: pointer switched, old versions cleaned
    _check_store(store)


def test_catalog_on_gcs(gcs_bucket: str, records_dir: Path) -> None:
    """Annotations and availability read from the bucket too; the catalog written and queried there."""
    import json

    remote = storage.location(f"{gcs_bucket}/annotations")
    remote.fs.put(str(records_dir), remote.path, recursive=True)
    available = [r["uniqueID"] for r in _records() if r["uniqueID"] != 12]
    storage.write_bytes(f"{gcs_bucket}/available.json", json.dumps(available).encode())
    store = f"{gcs_bucket}/store"
    catalog_from_annotations(f"{gcs_bucket}/annotations", store)
    _check_store(store)
    catalog_from_annotations(f"{gcs_bucket}/annotations", store, available=f"{gcs_bucket}/available.json")
    no_product = query(store, "SELECT unique_id FROM pairs WHERE NOT has_product AND NOT usable")
    assert no_product.to_pylist() == [{"unique_id": 12}]


def test_build_from_cubes_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    frame = FRAMES[0]
    local = tmp_path / f"{frame}.zarr"
    write_published_cube(local, zarr_format=2, frame_id=frame)
    remote = storage.location(f"{s3_bucket}/store/cubes/{frame}.zarr")
    remote.fs.put(str(local), remote.path, recursive=True)
    report = build_catalog(f"{s3_bucket}/store", CatalogConfig(workers=2))
    assert report.cubes == [frame] and report.pairs == 6
    pairs = read_pairs(f"{s3_bucket}/store")
    assert set(pairs["cube_url"].to_pylist()) == {f"{s3_bucket}/store/cubes/{frame}.zarr"}
    assert query(f"{s3_bucket}/store", "SELECT sum(deformation_pixels) AS n FROM pairs").to_pylist() == [
        {"n": 240}
    ]
    assert storage.exists(f"{s3_bucket}/store/catalog/{report.version}/items/{frame}.json")
