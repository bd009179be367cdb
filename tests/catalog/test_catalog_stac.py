"""STAC of stores with one cube and with several: official schemas and the hephaestus extension, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pystac
import pytest
from catalog_records import annotation, write_annotations

from hephaestus.catalog import CatalogConfig, build_catalog, catalog_from_annotations, resolve
from hephaestus.catalog.stac_validate import StacValidationError, validate
from hephaestus.platform import stac_extension as hx
from hephaestus.platform.stac_extension import HephaestusExtension

from factories import write_published_cube

FRAMES = ["001A_00001_000001", "002D_00002_000002", "003A_00003_000003"]


def _store(root: Path, n: int) -> Path:
    (root / "cubes").mkdir(parents=True)
    for k, frame in enumerate(FRAMES[:n]):  # grids of different sizes: different boxes
        write_published_cube(
            root / "cubes" / f"{frame}.zarr", frame_id=frame, height=32 + 8 * k, width=40 + 8 * k, seed=k
        )
    build_catalog(root, CatalogConfig(statistics=n == 1))  # one store with statistics: they validate too
    return root


@pytest.fixture(scope="module")
def one_cube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _store(tmp_path_factory.mktemp("one"), 1)


@pytest.fixture(scope="module")
def three_cubes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _store(tmp_path_factory.mktemp("three"), 3)


def _published(store: Path) -> tuple[dict, dict[str, dict]]:
    base, coll = resolve(store)
    items = {p.stem: json.loads(p.read_text()) for p in (Path(base) / "items").glob("*.json")}
    return coll, items


@pytest.mark.parametrize("store_name", ["one_cube", "three_cubes"])
def test_collection_and_items_validate_with_the_extension(
    store_name: str, request: pytest.FixtureRequest, shared_dir: Path
) -> None:
    store = request.getfixturevalue(store_name)
    schemas = shared_dir / "data" / "stac-schemas"
    coll, items = _published(store)
    assert hx.SCHEMA_URI in validate(coll, schemas, "collection.json")
    assert len(items) == (1 if store_name == "one_cube" else 3)
    for name, item in items.items():
        used = validate(item, schemas, name)
        assert hx.SCHEMA_URI in used and any("item-spec" in u for u in used)
        assert item["properties"][hx.FRAME_ID] == name
        assert item["assets"]["pairs"][hx.FILTER] == {"frame_id": name}


def test_single_cube_extent_is_one_box(one_cube: Path) -> None:
    coll, items = _published(one_cube)
    (item,) = items.values()
    assert coll["extent"]["spatial"]["bbox"] == [item["bbox"]]


def test_several_cubes_extent_is_the_union_then_each_box(three_cubes: Path) -> None:
    coll, items = _published(three_cubes)
    boxes = coll["extent"]["spatial"]["bbox"]
    assert len(boxes) == 4
    union = [
        min(i["bbox"][0] for i in items.values()),
        min(i["bbox"][1] for i in items.values()),
        max(i["bbox"][2] for i in items.values()),
        max(i["bbox"][3] for i in items.values()),
    ]
    assert boxes[0] == pytest.approx(union)
    assert sorted(map(tuple, boxes[1:])) == sorted(tuple(i["bbox"]) for i in items.values())


def test_the_old_single_cube_extent_is_invalid_stac(one_cube: Path, shared_dir: Path) -> None:
    """Regression: union box plus the one item box (two boxes) is what the official schema refuses."""
    coll, items = _published(one_cube)
    (item,) = items.values()
    bad = dict(coll, extent={**coll["extent"], "spatial": {"bbox": [item["bbox"], item["bbox"]]}})
    with pytest.raises(StacValidationError, match="bbox"):
        validate(bad, shared_dir / "data" / "stac-schemas", "old-collection")


def test_catalog_from_annotations_validates(tmp_path: Path, shared_dir: Path) -> None:
    folder = write_annotations(tmp_path / "ann", [annotation(1), annotation(2, secondary="20180129")])
    catalog_from_annotations(
        folder, tmp_path / "store", config=CatalogConfig(series_length=2, statistics=False)
    )
    _, coll = resolve(tmp_path / "store")
    assert hx.SCHEMA_URI in validate(coll, shared_dir / "data" / "stac-schemas", "collection.json")
    assert coll[hx.SOURCE] == "annotations" and coll[hx.SERIES_LENGTH] == 2


@pytest.mark.parametrize(
    "change, text",
    [
        ({"hephaestus:made_up": 1}, "made_up"),  # an undeclared hephaestus: key
        ({hx.SERIES_LENGTH: "3"}, "series_length"),
        ({hx.SOURCE: "elsewhere"}, "source"),
        ({hx.VERSION: "latest"}, "version"),
    ],
)
def test_extension_schema_refuses_bad_collections(
    one_cube: Path, shared_dir: Path, change: dict, text: str
) -> None:
    coll, _ = _published(one_cube)
    with pytest.raises(StacValidationError, match="hephaestus"):
        validate({**coll, **change}, shared_dir / "data" / "stac-schemas", f"bad-{text}")


def test_extension_schema_refuses_bad_items(one_cube: Path, shared_dir: Path) -> None:
    _, items = _published(one_cube)
    (item,) = items.values()
    bad = json.loads(json.dumps(item))
    bad["properties"][hx.PAIRS] = -1
    with pytest.raises(StacValidationError, match="hephaestus"):
        validate(bad, shared_dir / "data" / "stac-schemas", "bad-item")
    del bad["properties"][hx.PAIRS]
    with pytest.raises(StacValidationError):
        validate(bad, shared_dir / "data" / "stac-schemas", "bad-item")


def test_pystac_reads_the_fields_through_the_extension(one_cube: Path) -> None:
    coll = pystac.Collection.from_file(str(one_cube / "catalog" / "collection.json"))
    assert HephaestusExtension.has_extension(coll)
    ext = HephaestusExtension.ext(coll)
    assert ext.series_length == 3 and ext.version == coll.extra_fields[hx.VERSION]
    (item,) = coll.get_items()
    assert HephaestusExtension.ext(item).frame_id == FRAMES[0]
    assert HephaestusExtension.ext(item.assets["pairs"]).filter == {"frame_id": FRAMES[0]}


def test_collection_fields_are_declared_before_use() -> None:
    extent = pystac.Extent(
        pystac.SpatialExtent([[-180, -90, 180, 90]]), pystac.TemporalExtent([[None, None]])
    )
    coll = pystac.Collection("c", "d", extent)
    with pytest.raises(KeyError, match="declare them"):
        HephaestusExtension.ext(coll, add_if_missing=True).apply({"hephaestus:made_up": 1})
