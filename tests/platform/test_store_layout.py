"""The store layout: every path under a store URL, written out by hand here; unsafe ids never become paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hephaestus.platform.errors import InputError
from hephaestus.platform.layout import CheckpointFiles, ResultsLayout, Staging, StoreLayout, is_cube_name

ROOT = Path(__file__).resolve().parents[2]
VERSION = "v20260101T000000000000-0123abcd"


def test_local_store_paths(tmp_path: Path) -> None:
    s = StoreLayout(tmp_path)
    frame = "124D_04854_171313"
    assert s.cube(frame) == f"{tmp_path}/cubes/124D_04854_171313.zarr"
    staging = s.staging(frame)
    assert staging.url == f"{tmp_path}/staging/124D_04854_171313"
    assert staging.cube == f"{tmp_path}/staging/124D_04854_171313/cube.zarr"
    assert staging.plan == f"{tmp_path}/staging/124D_04854_171313/plan.json"
    assert staging.done_marker("pairs-00003") == f"{tmp_path}/staging/124D_04854_171313/done/pairs-00003.json"
    assert re.fullmatch(rf"{tmp_path}/staging/{frame}/old-[0-9a-f]{{32}}\.zarr", staging.retired_cube())
    assert s.quarantine_record(frame, "17") == f"{tmp_path}/quarantine/124D_04854_171313__17.json"
    assert s.pointer == f"{tmp_path}/catalog/collection.json"
    v = s.catalog_version(VERSION)
    assert v.pairs_index == f"{tmp_path}/catalog/{VERSION}/index/pairs"
    assert v.series_index == f"{tmp_path}/catalog/{VERSION}/index/series"
    assert v.item(frame) == f"{tmp_path}/catalog/{VERSION}/items/124D_04854_171313.json"
    assert v.geoparquet == f"{tmp_path}/catalog/{VERSION}/items.parquet"
    assert v.item_href(frame) == f"./{VERSION}/items/124D_04854_171313.json"
    assert v.href(v.PAIRS_HREF) == f"./{VERSION}/index/pairs/"


def test_object_store_paths() -> None:
    s = StoreLayout("s3://bucket/store/")
    assert s.cube("A_1") == "s3://bucket/store/cubes/A_1.zarr"
    assert s.staging("A_1").done_marker("dem") == "s3://bucket/store/staging/A_1/done/dem.json"
    assert s.catalog_version(VERSION).pairs_index == f"s3://bucket/store/catalog/{VERSION}/index/pairs"
    r = ResultsLayout("gs://b/results")
    assert r.run_checkpoints("r-1") == "gs://b/results/checkpoints/r-1"
    assert r.results_table == "gs://b/results/results.parquet"
    assert r.run_record("r-1") == "gs://b/results/runs/r-1.json"
    assert r.history("r-1") == "gs://b/results/history/r-1.jsonl"
    assert r.summary("table3_classification.md") == "gs://b/results/table3_classification.md"


@pytest.mark.parametrize("run_id", ["../etc", "a/b", ".."])
def test_unsafe_run_ids_never_become_paths(run_id: str) -> None:
    r = ResultsLayout("s3://bucket/results")
    for make in (r.run_checkpoints, r.run_record, r.history, r.summary):
        with pytest.raises(InputError, match="not a safe path component"):
            make(run_id)


@pytest.mark.parametrize("frame", ["../etc", "a/b", "..", "", ".hidden", "x" * 200])
def test_unsafe_frame_ids_never_become_paths(frame: str) -> None:
    s = StoreLayout("s3://bucket/store")
    for make in (s.cube, s.staging, s.catalog_version(VERSION).item):
        with pytest.raises(InputError, match="not a safe path component"):
            make(frame)


def test_quarantine_names_unsafe_ids_safely() -> None:
    a = StoreLayout.quarantine_name("../../etc", "1")
    b = StoreLayout.quarantine_name("../../etd", "1")
    assert a.startswith("unsafe-") and "/" not in a and ".." not in a and a != b


def test_catalog_version_names_are_checked() -> None:
    with pytest.raises(ValueError, match="not a catalog version"):
        StoreLayout("/tmp/s").catalog_version("../v1")


def test_cube_names() -> None:
    assert is_cube_name("A.zarr") and is_cube_name("A.zarr.zip")
    assert not is_cube_name(".A.zarr") and not is_cube_name("_A.zarr") and not is_cube_name("A.json")


def test_checkpoint_file_names() -> None:
    names = {CheckpointFiles.MODEL, CheckpointFiles.BEST, CheckpointFiles.OPTIMIZER}
    assert names == {"model.pt", "best.pt", "optimizer.pt"}
    assert (CheckpointFiles.RUN, CheckpointFiles.INPUT) == ("run_config.json", "input.json")


def test_staging_is_picklable() -> None:
    import pickle

    st = Staging("/x/staging/F")
    assert pickle.loads(pickle.dumps(st)) == st


# Path literals of the store belong to platform/layout.py; these stage modules once spelled them out.
OWNED_ELSEWHERE = [
    "ingest/publish.py",
    "ingest/quarantine.py",
    "ingest/runner.py",
    "ingest/writer.py",
    "ingest/convert.py",
    "ingest/pipeline.py",
    "ingest/stage.py",
    "ingest/strategy.py",
    "ingest/ledger.py",
    "ingest/scheduler.py",
    "ingest/tasks.py",
    "ingest/frame.py",
    "catalog/build.py",
    "catalog/export_authors.py",
    "catalog/read.py",
    "catalog/publish.py",
    "train/trainer.py",
    "train/predict.py",
]
_FOLDERS = r"(cubes|staging|quarantine|catalog|checkpoints|index|items|done|pairs|series)"
LITERALS = re.compile(
    rf"""join\([^)]*["']{_FOLDERS}["']"""  # storage.join(store, "cubes")
    rf"""|["'][^"'\s]*/{_FOLDERS}/"""  # f"./{version}/items/..."
    r"""|["'](collection\.json|plan\.json|cube\.zarr|items\.parquet|model\.pt|best\.pt|optimizer\.pt"""
    r"""|state\.json|input\.json|run_config\.json)["']"""
)


@pytest.mark.parametrize("path", OWNED_ELSEWHERE)
def test_stage_modules_spell_no_store_path(path: str) -> None:
    code = [
        line
        for line in (ROOT / path).read_text().splitlines()
        if not line.lstrip().startswith("#") and "import" not in line
    ]
    hits = [line.strip() for line in code if LITERALS.search(line)]
    assert hits == [], f"{path} spells store paths: use platform/layout.py"
