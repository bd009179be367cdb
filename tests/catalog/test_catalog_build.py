"""`build_catalog` over hand-written cubes (tests/factories.py): rows, masks, series, statistics, STAC."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from hephaestus.catalog import (
    CatalogBuildError,
    CatalogConfig,
    CubeUnreadableError,
    build_catalog,
    read_pairs,
    read_series,
    read_statistics,
    resolve,
)
from hephaestus.catalog.stac_validate import StacValidationError, validate
from hephaestus.platform import schema

from factories import write_published_cube

FRAME_V2, FRAME_V3 = "124D_04854_171313", "001A_00001_000001"


@pytest.fixture(scope="module")
def cube_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    store = tmp_path_factory.mktemp("cube-store")
    (store / "cubes").mkdir()
    ds2 = write_published_cube(store / "cubes" / f"{FRAME_V2}.zarr", zarr_format=2, frame_id=FRAME_V2)
    ds3 = write_published_cube(store / "cubes" / f"{FRAME_V3}.zarr", zarr_format=3, frame_id=FRAME_V3, seed=1)
    report = build_catalog(store)
    return store, {"report": report, FRAME_V2: ds2, FRAME_V3: ds3}


def test_pairs_from_cubes(cube_store: tuple[Path, dict]) -> None:
    store, data = cube_store
    assert sorted(data["report"].cubes) == [FRAME_V3, FRAME_V2]
    pairs = read_pairs(store, frame_id=FRAME_V2).to_pylist()
    # factory layout: primaries Jan 5/17/29, secondaries Jan 11/17/23/29; valid when secondary > primary
    assert [p["unique_id"] for p in pairs] == [100, 101, 102, 103, 104, 105]
    assert [(p["primary_index"], p["secondary_index"]) for p in pairs] == [
        (0, 0), (0, 1), (0, 2), (0, 3), (1, 2), (1, 3)
    ]  # fmt: skip
    assert pairs[4]["primary_date"] == dt.date(2018, 1, 17) and pairs[4]["secondary_date"] == dt.date(
        2018, 1, 23
    )
    assert [p["positive"] for p in pairs] == [True, False, False, True, False, False]  # every 3rd pair
    assert all(p["usable"] and p["has_product"] and p["split"] == "train" for p in pairs)
    assert all((p["height"], p["width"]) == (64, 80) for p in pairs)
    assert pairs[0]["cube_url"] == str(store / "cubes" / f"{FRAME_V2}.zarr")
    # square masks: rows 16..25, columns 20 + j .. 31 + j, 10 x 12 pixels
    p0, p3 = pairs[0], pairs[3]
    assert (p0["mask_row_min"], p0["mask_row_max"], p0["mask_col_min"], p0["mask_col_max"]) == (
        16,
        25,
        20,
        31,
    )
    assert (p3["mask_row_min"], p3["mask_row_max"], p3["mask_col_min"], p3["mask_col_max"]) == (
        16,
        25,
        23,
        34,
    )
    assert p0["deformation_pixels"] == 120 and pairs[1]["deformation_pixels"] == 0
    assert pairs[1]["mask_row_min"] is None
    assert (
        p0["label"] == ["Deformation"]
        and p0["activity_type"] == ["Mogi"]
        and p0["intensity_level"] == ["Low"]
    )
    assert pairs[1]["label"] == ["Non_Deformation"] and pairs[1]["activity_type"] == []
    assert p0["phase"] == "Unrest" and p0["caption"].startswith("A Mogi-type")
    assert abs(p0["confidence"] - 0.8) < 1e-6


def test_series_from_cubes(cube_store: tuple[Path, dict]) -> None:
    store, _ = cube_store
    series = [s for s in read_series(store).to_pylist() if s["frame_id"] == FRAME_V2]
    # Jan 5: 4 pairs, a positive training group -> subsets sharing at most one pair -> only (0, 1, 2)
    # Jan 17: 2 pairs -> padded by duplication
    assert [s["primary_date"] for s in series] == [dt.date(2018, 1, 5), dt.date(2018, 1, 17)]
    assert series[0]["pair_ids"] == [100, 101, 102] and series[0]["positive"] and not series[0]["padded"]
    assert (
        sorted(set(series[1]["pair_ids"])) == [104, 105] and series[1]["padded"] and not series[1]["positive"]
    )
    assert series[1]["pair_ids"] == sorted(series[1]["pair_ids"])
    assert all(s["cube_url"].endswith(f"{FRAME_V2}.zarr") for s in series)


def test_statistics_match_numpy_over_whole_arrays(cube_store: tuple[Path, dict]) -> None:
    store, data = cube_store
    pools: dict[str, list[np.ndarray]] = {}
    for frame in (FRAME_V2, FRAME_V3):
        ds = data[frame]
        valid = ds["valid_date_pair"].values
        phase = ds["insar_difference"].values[valid]
        nodata = phase == 0
        pools.setdefault("insar_difference", []).append(phase[~nodata])
        pools.setdefault("insar_coherence", []).append(ds["insar_coherence"].values[valid][~nodata])
        pools.setdefault("dem", []).append(ds["dem"].values.ravel())
        for which in ("primary", "secondary"):
            for f in schema.ERA5_FIELDS:
                pools.setdefault(f, []).append(ds[schema.era5_variable(which, f)].values[valid].ravel())
    stats = read_statistics(store)
    for key, arrays in pools.items():
        x = np.concatenate([a.astype("float64").ravel() for a in arrays])
        assert stats[key] == pytest.approx((x.mean(), x.std()), rel=1e-9), key
    _, coll = resolve(store)
    entry = coll["hephaestus:statistics"]["surface_pressure"]
    assert entry["authors_mean"] == schema.AUTHORS_STATISTICS["surface_pressure"][0]
    assert entry["mean_ratio"] == pytest.approx(entry["mean"] / entry["authors_mean"])


def test_stac_validates_offline(cube_store: tuple[Path, dict], shared_dir: Path) -> None:
    store, _ = cube_store
    schemas = shared_dir / "data" / "stac-schemas"
    base, coll = resolve(store)
    used = validate(coll, schemas, "collection.json")
    assert "https://stac-extensions.github.io/table/v1.2.0/schema.json" in used
    items = {p.stem: json.loads(p.read_text()) for p in (Path(base) / "items").glob("*.json")}
    assert sorted(items) == sorted([FRAME_V2, FRAME_V3])
    for name, item in items.items():
        used = validate(item, schemas, name)
        assert {u.split("/")[3] for u in used if "stac-extensions" in u} == {
            "projection",
            "datacube",
            "label",
            "table",
        }
    item = items[FRAME_V2]
    # pixel edges of a 64 x 80 grid whose north-west corner is (19.5, -155.6), spacing 0.001
    assert item["bbox"] == pytest.approx([-155.6, 19.436, -155.52, 19.5])
    assert item["geometry"]["type"] == "Polygon"
    props = item["properties"]
    assert props["start_datetime"].startswith("2018-01-05") and props["end_datetime"].startswith("2018-01-29")
    assert props["hephaestus:volcanoes"] == ["Campi Flegrei", "Ischia", "vesuvius"]
    assert props["proj:code"] == "EPSG:4326" and props["proj:shape"] == [64, 80]
    assert set(props["cube:dimensions"]) == {"primary_date", "secondary_date", "latitude", "longitude"}
    assert set(props["cube:variables"]) == set(schema.VARIABLES)
    assert props["label:tasks"] == ["classification", "segmentation"]
    assert item["assets"]["zarr"]["type"] == "application/vnd+zarr" and item["assets"]["zarr"]["roles"] == [
        "data"
    ]
    assert item["assets"]["pairs"]["type"] == "application/vnd.apache.parquet"
    assert item["assets"]["pairs"]["table:row_count"] == 6
    links = {ln["rel"]: ln["href"] for ln in coll["links"] if ln["rel"] != "item"}
    assert links["root"] == "./collection.json"
    assert len([ln for ln in coll["links"] if ln["rel"] == "item"]) == 2
    # a broken item is refused (the validator can fail)
    bad = json.loads(json.dumps(item))
    del bad["properties"]["label:type"]
    with pytest.raises(StacValidationError, match="label"):
        validate(bad, schemas, "bad-item")


def test_geoparquet_mirror_round_trips(cube_store: tuple[Path, dict]) -> None:
    from stac_geoparquet.arrow import stac_table_to_items

    store, _ = cube_store
    base, coll = resolve(store)
    table = pq.read_table(Path(base) / "items.parquet")
    items = list(stac_table_to_items(table))
    assert sorted(i["id"] for i in items) == sorted([FRAME_V2, FRAME_V3])
    assert coll["assets"]["items"]["href"].endswith("items.parquet")


def test_missing_cubes_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogBuildError, match="no cubes folder"):
        build_catalog(tmp_path / "empty-store")
    (tmp_path / "empty-store" / "cubes").mkdir(parents=True)
    with pytest.raises(CatalogBuildError, match="no cubes"):
        build_catalog(tmp_path / "empty-store")
    result = CliRunner().invoke(_app(), ["catalog", "build", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no cubes folder" in result.output and "Traceback" not in result.output


def test_broken_cube_is_named_and_left_out(tmp_path: Path, cube_store: tuple[Path, dict]) -> None:
    good_store, _ = cube_store
    store = tmp_path / "store"
    (store / "cubes").mkdir(parents=True)
    shutil.copytree(good_store / "cubes" / f"{FRAME_V2}.zarr", store / "cubes" / f"{FRAME_V2}.zarr")
    broken = store / "cubes" / "999D_00000_000000.zarr"
    broken.mkdir()
    (broken / "zarr.json").write_text("{not json")
    (store / "cubes" / "_inprogress.zarr").mkdir()  # an unfinished cube is not visible
    report = build_catalog(store, CatalogConfig(statistics=False))
    assert report.cubes == [FRAME_V2]
    assert len(report.skipped) == 1 and "999D_00000_000000.zarr" in report.skipped[0]
    assert read_pairs(store).num_rows == 6
    _, coll = resolve(store)
    assert "999D_00000_000000.zarr" in coll["hephaestus:skipped"][0]
    with pytest.raises(CubeUnreadableError, match="999D_00000_000000.zarr"):
        build_catalog(store, CatalogConfig(strict=True))


def _app():  # type: ignore[no-untyped-def]
    from hephaestus.cli.app import app

    return app


def test_pystac_walks_the_published_catalog(cube_store: tuple[Path, dict]) -> None:
    import pystac

    store, _ = cube_store
    coll = pystac.Collection.from_file(str(store / "catalog" / "collection.json"))
    items = {i.id: i for i in coll.get_items()}
    assert sorted(items) == sorted([FRAME_V2, FRAME_V3])
    base, _ = resolve(store)
    pairs_href = items[FRAME_V2].assets["pairs"].get_absolute_href()
    assert Path(pairs_href) == Path(base) / "index" / "pairs"
    # relative to the Item's file (a copied store reads its own cubes); pystac resolves it to the cube
    assert items[FRAME_V2].assets["zarr"].get_absolute_href() == str(store / "cubes" / f"{FRAME_V2}.zarr")
