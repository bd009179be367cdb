"""Validate STAC JSON offline against the official schemas kept in a local folder (no network).

pystac's own `validate()` downloads extension schemas; here every schema URL is mapped to a file:
https://schemas.stacspec.org/<ver>/<path> -> <ver>/<path> (1.1.0 is kept flat: <ver>/<basename>),
https://stac-extensions.github.io/<name>/<ver>/schema.json -> extensions/<name>/<ver>/schema.json,
https://geojson.org/schema/<X>.json -> geojson/<X>.json. JSON-Schema meta-schemas come bundled.

Users validate with pystac itself: `register_schemas()` installs a pystac validator that resolves our
extension's URI to the packaged schema (and, given the folder, every official schema to its copy),
so `pystac.Item.from_file(...).validate()` works offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import jsonschema
import pystac.validation
from pystac.validation import JsonSchemaSTACValidator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

from hephaestus.platform import stac_extension as hx
from hephaestus.platform.errors import PlatformRuntimeError

STAC_SCHEMAS = "https://schemas.stacspec.org/"
EXTENSIONS = "https://stac-extensions.github.io/"
GEOJSON = "https://geojson.org/schema/"
PROJJSON = "https://proj.org/schemas/"
"""PROJJSON's schema is not among the official STAC schemas kept offline: it is taken as "any object"
(only consulted for a PROJJSON `reference_system`; ours are EPSG codes)."""


class StacValidationError(PlatformRuntimeError, ValueError):
    """A STAC object does not validate against one of its schemas: names the object and the schema."""


def schema_file(url: str, root: Path) -> Path:
    """The local file of a schema URL, or NoSuchResource."""
    url = urldefrag(url).url
    if url == hx.SCHEMA_URI:  # ours: shipped in the package, not in the folder of official schemas
        return hx.schema_path()
    if url.startswith(STAC_SCHEMAS):
        rest = url[len(STAC_SCHEMAS) :]
        version, _, path = rest.partition("/")
        for candidate in (root / version / path, root / version / Path(path).name):
            if candidate.is_file():
                return candidate
    elif url.startswith(EXTENSIONS):
        candidate = root / "extensions" / urlsplit(url).path.strip("/")
        if candidate.is_file():
            return candidate
    elif url.startswith(GEOJSON):
        candidate = root / "geojson" / Path(urlsplit(url).path).name
        if candidate.is_file():
            return candidate
    raise NoSuchResource(ref=url)


def local_schema(url: str, root: Path) -> dict:
    """The schema document of a URL, from files only (PROJJSON's as any object), or NoSuchResource."""
    if url.startswith(PROJJSON):
        return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
    return json.loads(schema_file(url, root).read_text())


def registry(root: Path) -> Registry:
    def retrieve(uri: str) -> Resource:
        return Resource.from_contents(local_schema(uri, root), default_specification=DRAFT7)

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


def core_schema_url(obj: dict) -> str:
    version = obj.get("stac_version", "1.1.0")
    kind = obj.get("type")
    if kind == "Feature":
        return f"{STAC_SCHEMAS}v{version}/item-spec/json-schema/item.json"
    if kind == "Collection":
        return f"{STAC_SCHEMAS}v{version}/collection-spec/json-schema/collection.json"
    if kind == "Catalog":
        return f"{STAC_SCHEMAS}v{version}/catalog-spec/json-schema/catalog.json"
    raise StacValidationError(f"not a STAC object (type {kind!r})")


def validate(obj: dict, schema_root: str | Path, name: str = "<stac>") -> list[str]:
    """Validate against the core schema and every declared extension; return the schema URLs used."""
    root = Path(schema_root)
    reg = registry(root)
    urls = [core_schema_url(obj), *obj.get("stac_extensions", [])]
    for url in urls:
        try:
            schema = json.loads(schema_file(url, root).read_text())
        except NoSuchResource as exc:
            raise StacValidationError(f"{name}: no local schema for {url}") from exc
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        validator = cls(schema, registry=reg)
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(root)"
            raise StacValidationError(f"{name}: invalid against {url} at {where}: {first.message}")
    return urls


class OfflineSTACValidator(JsonSchemaSTACValidator):
    """pystac's JSON-schema validator with schemas taken from files, never fetched, where we have them.

    The cache starts with pystac's bundled core schemas and our extension's packaged schema; any
    other URL is mapped by `local_schema` into `schema_root` (a folder of official schemas laid out
    as /work/shared/data/stac-schemas) when one is given, else left to pystac (a download).
    """

    def __init__(self, schema_root: str | Path | None = None) -> None:
        super().__init__()
        self.schema_root = Path(schema_root) if schema_root is not None else None
        self.schema_cache[hx.SCHEMA_URI] = json.loads(hx.schema_path().read_text())

    def _get_schema(self, schema_uri: str) -> dict:
        # pystac's hook for a schema not in the cache (pystac pinned: its only lookup path)
        if schema_uri not in self.schema_cache and self.schema_root is not None:
            try:
                self.schema_cache[schema_uri] = local_schema(schema_uri, self.schema_root)
            except NoSuchResource:
                pass
        return super()._get_schema(schema_uri)


def register_schemas(schema_root: str | Path | None = None) -> OfflineSTACValidator:
    """Make pystac's `validate()` resolve our extension (and, with `schema_root`, every official schema)
    offline, for every later call in this process; returns the validator installed."""
    validator = OfflineSTACValidator(schema_root)
    pystac.validation.set_validator(validator)
    return validator
