"""Cube version tokens: what a catalog Item records of the cube it describes (issue 16 item 1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import zarr

from hephaestus.platform import stac_extension as hx
from hephaestus.platform.cube import (
    FINGERPRINT_ATTR,
    HISTORY_ATTR,
    VERSION_ATTR,
    CubeUnreadableError,
    cube_version,
    dataset_version,
    descends_from,
    open_cube,
    version_token,
)

from factories import write_published_cube


def _stamp(path: Path, attrs: dict) -> None:
    group = zarr.open_group(str(path), mode="r+")
    group.attrs.update(attrs)
    if group.metadata.zarr_format == 2:
        zarr.consolidate_metadata(str(path))


def test_token_is_a_fixed_function_of_the_fingerprint() -> None:
    # independent expectation: the documented recipe, computed here by hand
    expected = "cv-" + hashlib.sha256(b"hephaestus-cube:abc").hexdigest()[:20]
    assert version_token("abc") == expected
    assert version_token("abd") != expected


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_cube_version_reads_the_root_metadata(tmp_path: Path, zarr_format: int) -> None:
    path = tmp_path / "a.zarr"
    write_published_cube(path, zarr_format=zarr_format)
    assert cube_version(path) is None  # the authors' cubes carry no token
    _stamp(path, {FINGERPRINT_ATTR: "f1"})  # a cube ingested before tokens existed
    assert cube_version(path) == version_token("f1")
    _stamp(path, {VERSION_ATTR: "cv-new", HISTORY_ATTR: ["cv-old", "cv-older"]})
    assert cube_version(path) == "cv-new"
    ds = open_cube(path)
    assert dataset_version(ds) == "cv-new"
    assert descends_from(ds, "cv-new") and descends_from(ds, "cv-older")
    assert not descends_from(ds, version_token("f1"))


def test_missing_cube_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(CubeUnreadableError, match="nope.zarr"):
        cube_version(tmp_path / "nope.zarr")


def test_stac_schema_declares_the_item_field() -> None:
    schema = json.loads(hx.schema_path().read_text())
    fields = schema["definitions"]["item_fields"]["properties"]
    assert fields[hx.CUBE_VERSION]["type"] == "string"
    assert hx.CUBE_VERSION in hx.ITEM_KEYS


def test_catalog_item_records_the_cube_version(tmp_path: Path, shared_dir: Path) -> None:
    from hephaestus.catalog import CatalogConfig, build_catalog, resolve
    from hephaestus.catalog.stac_validate import validate

    frame = "001A_00001_000001"
    cube = tmp_path / "cubes" / f"{frame}.zarr"
    write_published_cube(cube, frame_id=frame, height=32, width=40)
    _stamp(cube, {VERSION_ATTR: "cv-0123456789abcdef0123"})
    build_catalog(tmp_path, CatalogConfig(statistics=False))
    base, _ = resolve(tmp_path)
    item = json.loads((Path(base) / "items" / f"{frame}.json").read_text())
    assert item["properties"][hx.CUBE_VERSION] == "cv-0123456789abcdef0123"
    validate(item, shared_dir / "data" / "stac-schemas", "item")
