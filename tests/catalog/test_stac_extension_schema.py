"""The `hephaestus:` extension schema is resolvable: pystac's own `validate()` works offline after
`register_schemas()`, and refuses a wrongly typed `hephaestus:*` field naming our extension.

The test machine reaches nothing outside loopback, so any schema pystac had to download fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pystac
import pystac.validation
import pytest
from pystac.validation import RegisteredValidator

from hephaestus.catalog import build_catalog, resolve
from hephaestus.catalog.stac_validate import register_schemas
from hephaestus.platform import stac_extension as hx

from factories import write_published_cube

FRAME = "124D_04854_171313"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def item_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("schema-store")
    write_published_cube(store / "cubes" / f"{FRAME}.zarr", zarr_format=3, frame_id=FRAME)
    build_catalog(store)
    base, _ = resolve(store)
    return Path(base) / "items" / f"{FRAME}.json"


@pytest.fixture
def registered(shared_dir: Path) -> Iterator[None]:
    """`register_schemas` for one test; pystac's previous validator comes back afterwards."""
    previous = RegisteredValidator.get_validator()
    register_schemas(shared_dir / "data" / "stac-schemas")
    yield
    pystac.validation.set_validator(previous)


def test_schema_uri_is_the_repository_file() -> None:
    # the published URI is the raw URL of the packaged file's path in the repository
    relative = hx.schema_path().resolve().relative_to(REPO).as_posix()
    assert relative == "platform/stac/v1.1.0/schema.json"
    assert hx.SCHEMA_URI.startswith("https://") and hx.SCHEMA_URI.endswith("/main/" + relative)
    assert json.loads(hx.schema_path().read_text())["$id"] == hx.SCHEMA_URI


def test_item_validates_offline_after_register(item_path: Path, registered: None) -> None:
    item = pystac.Item.from_file(str(item_path))
    assert hx.SCHEMA_URI in item.stac_extensions
    used = item.validate()
    assert hx.SCHEMA_URI in used
    assert {u.split("/")[3] for u in used if "stac-extensions" in u} == {
        "projection",
        "datacube",
        "label",
        "table",
    }


def test_wrong_type_names_our_extension(item_path: Path, registered: None) -> None:
    item = pystac.Item.from_file(str(item_path))
    item.properties["hephaestus:pairs"] = "six"
    with pytest.raises(pystac.errors.STACValidationError) as info:
        item.validate()
    message = str(info.value)
    assert hx.SCHEMA_URI in message
    assert "'six' is not of type 'integer'" in message


def test_without_register_our_schema_is_fetched_and_fails(item_path: Path) -> None:
    # pystac alone must download our schema (no host answers here): what users hit before
    item = pystac.Item.from_file(str(item_path))
    with pytest.raises(pystac.validation.GetSchemaError, match="hephaestus"):
        item.validate(validator=pystac.validation.JsonSchemaSTACValidator())
