"""STAC item search (catalog/search.py, `hmc catalog search`) over a real catalog of three known cubes.

The cubes and what they hold: tests/catalog/search_cubes.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from search_cubes import BALI, ETNA, HAWAII, build_search_store, write_cubes
from typer.testing import CliRunner

from hephaestus.catalog import CatalogConfig, build_catalog
from hephaestus.catalog.search import search
from hephaestus.cli.app import app
from hephaestus.platform import storage
from hephaestus.platform.errors import InputError


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_search_store(tmp_path_factory.mktemp("search-store"))


def ids(store: Path | str, **params: object) -> list[str]:
    return [f["id"] for f in search(store, **params)["features"]]


def test_the_fixture_is_what_the_table_says(store: Path) -> None:
    items = {f["id"]: f for f in search(store)["features"]}
    assert sorted(items) == [HAWAII, ETNA, BALI]
    props = {
        k: (
            dt.datetime.fromisoformat(v["properties"]["end_datetime"]),
            v["properties"]["hephaestus:positive_pairs"],
        )
        for k, v in items.items()
    }
    assert props == {
        HAWAII: (dt.datetime(2018, 1, 29, tzinfo=dt.UTC), 2),
        ETNA: (dt.datetime(2018, 1, 17, tzinfo=dt.UTC), 1),
        BALI: (dt.datetime(2018, 2, 10, tzinfo=dt.UTC), 3),
    }


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        ([14.0, 37.0, 16.0, 38.0], [ETNA]),  # Sicily
        ([-160.0, 18.0, -150.0, 20.0], [HAWAII]),
        ([-180.0, -10.0, 20.0, 40.0], [HAWAII, ETNA]),  # both northern-hemisphere frames west of 20E
        ([15.015, 37.79, 15.5, 37.9], [ETNA]),  # overlaps the frame's corner only
        ([0.0, 0.0, 10.0, 10.0], []),
    ],
)
def test_bbox(store: Path, bbox: list[float], expected: list[str]) -> None:
    assert sorted(ids(store, bbox=bbox)) == expected


def test_intersects(store: Path) -> None:
    point_in_bali = {"type": "Point", "coordinates": [115.51, -8.31]}
    assert ids(store, intersects=point_in_bali) == [BALI]
    assert ids(store, intersects=json.dumps(point_in_bali)) == [BALI]
    beside_bali = {"type": "Point", "coordinates": [115.53, -8.31]}  # 0.01 degree east of its edge
    assert ids(store, intersects=beside_bali) == []
    triangle = {"type": "Polygon", "coordinates": [[[10, 30], [20, 30], [15, 45], [10, 30]]]}
    assert ids(store, intersects=triangle) == [ETNA]


@pytest.mark.parametrize(
    ("datetime", "expected"),
    [
        ("2018-01-20T00:00:00Z", [HAWAII, BALI]),  # Etna ends on the 17th
        ("2018-02-01T00:00:00Z/..", [BALI]),
        ("../2018-01-05T00:00:00Z", [HAWAII, ETNA, BALI]),  # every cube starts that day
        ("2018-01-18T00:00:00Z/2018-01-30T00:00:00Z", [HAWAII, BALI]),
        ("2017-01-01T00:00:00Z/2017-12-31T00:00:00Z", []),
        ("2018-02-11T00:00:00Z/..", []),
    ],
)
def test_datetime_intersects_the_items_interval(store: Path, datetime: str, expected: list[str]) -> None:
    assert sorted(ids(store, datetime=datetime)) == expected


def test_ids_and_collections(store: Path) -> None:
    assert sorted(ids(store, ids=[BALI, ETNA, "999A_00000_000000"])) == [ETNA, BALI]
    assert sorted(ids(store, collections=["hephaestus-minicubes"])) == [HAWAII, ETNA, BALI]
    assert ids(store, collections=["another-collection"]) == []


def test_every_parameter_holds_beside_a_filter_whose_top_level_is_an_or(store: Path) -> None:
    """Parameters AND the filter as a whole: Etna has 1 positive pair, Bali lies south of the bbox."""
    either = '"hephaestus:positive_pairs" = 2 OR "hephaestus:positive_pairs" = 3'
    assert ids(store, ids=[ETNA], filter=either) == []
    assert ids(store, collections=["another-collection"], filter=either) == []
    northern_west = [-180.0, -10.0, 20.0, 40.0]
    assert ids(store, bbox=northern_west, filter=either) == [HAWAII]
    assert ids(store, bbox=northern_west, filter=f"NOT ({either})") == [ETNA]
    assert ids(store, bbox=northern_west, datetime="2018-01-18T00:00:00Z/2018-01-30T00:00:00Z") == [HAWAII]


def test_cql2_text_and_json_give_the_same_items(store: Path) -> None:
    text = '"hephaestus:positive_pairs" >= 2'
    as_json = {"op": ">=", "args": [{"property": "hephaestus:positive_pairs"}, 2]}
    assert sorted(ids(store, filter=text)) == [HAWAII, BALI]
    assert sorted(ids(store, filter=as_json)) == [HAWAII, BALI]
    assert sorted(ids(store, filter=json.dumps(as_json), filter_lang="cql2-json")) == [HAWAII, BALI]
    # a filter and the other parameters all hold
    assert ids(store, filter=text, datetime="2018-02-01T00:00:00Z/..") == [BALI]
    assert ids(store, filter="\"hephaestus:frame_id\" = '002D_00002_000002'") == [ETNA]


def test_sortby_and_limit(store: Path) -> None:
    assert ids(store, sortby="-hephaestus:positive_pairs") == [BALI, HAWAII, ETNA]
    assert ids(store, sortby=["hephaestus:positive_pairs"]) == [ETNA, HAWAII, BALI]
    assert ids(store, sortby="-end_datetime", limit=2) == [BALI, HAWAII]
    assert len(ids(store, limit=1)) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "positive_pairs >=== 1"},
        {"filter": "{not json", "filter_lang": "cql2-json"},
        {"datetime": "yesterday"},
        {"bbox": [1.0, 2.0]},
        {"intersects": "{not json"},
    ],
)
def test_bad_parameters_are_input_errors(store: Path, params: dict) -> None:
    with pytest.raises(InputError):
        search(store, **params)


def test_cli_prints_an_item_collection(store: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "catalog",
            "search",
            str(store),
            "--bbox",
            "-180,-10,20,40",
            "--sortby",
            "-hephaestus:positive_pairs",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["type"] == "FeatureCollection"
    assert [f["id"] for f in doc["features"]] == [HAWAII, ETNA]
    assert all(f["type"] == "Feature" and f["properties"]["datetime"] is None for f in doc["features"])


def test_cli_filter_json_and_intersects_file(store: Path, tmp_path: Path) -> None:
    geom = tmp_path / "bali.geojson"
    geom.write_text(json.dumps({"type": "Point", "coordinates": [115.51, -8.31]}))
    runner = CliRunner()
    result = runner.invoke(app, ["catalog", "search", str(store), "--intersects", str(geom)])
    assert [f["id"] for f in json.loads(result.stdout)["features"]] == [BALI]
    filt = json.dumps({"op": "=", "args": [{"property": "hephaestus:positive_pairs"}, 1]})
    result = runner.invoke(
        app, ["catalog", "search", str(store), "--filter", filt, "--filter-lang", "cql2-json", "--limit", "5"]
    )
    assert [f["id"] for f in json.loads(result.stdout)["features"]] == [ETNA]


def test_cli_bad_filter_is_a_one_line_error(store: Path) -> None:
    result = CliRunner().invoke(app, ["catalog", "search", str(store), "--filter", "positive_pairs >=== 1"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "filter" in lines[0], result.stderr


def test_search_a_store_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    write_cubes(tmp_path / "cubes")
    store = f"{s3_bucket}/store"
    loc = storage.location(f"{store}/cubes")
    loc.fs.put(str(tmp_path / "cubes") + "/", loc.path, recursive=True)
    build_catalog(store, CatalogConfig(statistics=False))
    assert ids(store, bbox=[14.0, 37.0, 16.0, 38.0]) == [ETNA]
    assert ids(store, filter='"hephaestus:positive_pairs" >= 2', sortby="-hephaestus:positive_pairs") == [
        BALI,
        HAWAII,
    ]
