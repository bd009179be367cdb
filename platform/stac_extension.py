"""The `hephaestus:*` STAC fields as one pystac extension, with its JSON schema in the package.

The catalog writes these fields on Items (one per cube), on the pair-index asset and on the
Collection (which is also the publication pointer); the loader and the trainer read the Collection
back as plain JSON (series length, statistics). Every key is spelled here, once; the schema
(`stac/v1.1.0/schema.json` beside this module) declares every key with its type and refuses any
other `hephaestus:` key, so a field added in one place and not here fails validation.

The schema URI is the raw URL of that file in the project's repository (`SCHEMA_URI`): an absolute URI
a STAC `stac_extensions` entry needs, served by the repository host for anyone online. The file name
carries the version and a released file is never edited (a change is a new `stac/vX.Y.Z/schema.json`
and a new URI), so the URL stays stable; the `/vX.Y.Z/schema.json` shape is the one pystac expects
of an extension URI (it matches the extension by the part before the version). Offline, catalog/stac_validate.py maps the URI to the
package file (`schema_path`), as it maps the official schemas to their local copies, and its
`register_schemas()` makes pystac's own `validate()` do the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Generic, TypeVar, cast

import pystac
from pystac.extensions.base import ExtensionManagementMixin, PropertiesExtension

SCHEMA_URI: Final = (
    "https://raw.githubusercontent.com/hephaestus-minicubes/hephaestus-platform/main/"
    "platform/stac/v1.1.0/schema.json"
)
"""Where the extension schema is published: this repository's `platform/stac/v1.1.0/schema.json` (1.1.0: the split schemes; v1.0.0 stays as released)."""
SCHEMA_FILE: Final = "v1.1.0/schema.json"
PREFIX: Final = "hephaestus:"

# Item properties
FRAME_ID: Final = "hephaestus:frame_id"
VOLCANOES: Final = "hephaestus:volcanoes"
PAIRS: Final = "hephaestus:pairs"
USABLE_PAIRS: Final = "hephaestus:usable_pairs"
POSITIVE_PAIRS: Final = "hephaestus:positive_pairs"
CUBE_VERSION: Final = "hephaestus:cube_version"
"""The version token of the cube the Item describes (platform.cube.cube_version): the cube a training
run on this catalog read, so that the run can be reproduced (an append keeps every listed pair)."""
# Asset fields (the pair-index asset of an Item)
FILTER: Final = "hephaestus:filter"
# Collection fields
VERSION: Final = "hephaestus:version"
SERIES_LENGTH: Final = "hephaestus:series_length"
SEED: Final = "hephaestus:seed"
TABLE2: Final = "hephaestus:table2"
PARTITIONING: Final = "hephaestus:partitioning"
STATISTICS: Final = "hephaestus:statistics"
STATISTICS_TRAIN: Final = "hephaestus:statistics_train"
"""The same statistics over the train split only: what training normalises with (no val/test leakage)."""
STATISTICS_TRAIN_VOLCANO: Final = "hephaestus:statistics_train_volcano"
"""The same statistics over the frames of the volcano scheme's train split (no held-out volcano's pixels)."""
STATISTICS_TRAIN_BY_SCHEME: Final = {"paper": STATISTICS_TRAIN, "volcano": STATISTICS_TRAIN_VOLCANO}
"""Split scheme (schema.SPLIT_SCHEMES) -> the collection key of its train split's statistics."""
SPLIT_SCHEMES: Final = "hephaestus:split_schemes"
"""Per split scheme: its pair-index column and, per split, the frames, volcanoes and pair counts in it."""
SOURCE: Final = "hephaestus:source"
SKIPPED: Final = "hephaestus:skipped"
ANNOTATIONS: Final = "hephaestus:annotations"
AVAILABLE: Final = "hephaestus:available"

T = TypeVar("T", pystac.Item, pystac.Collection, pystac.Asset)


def schema_path() -> Path:
    """The extension's JSON schema, shipped as package data."""
    return Path(__file__).with_name("stac") / SCHEMA_FILE


class HephaestusExtension(
    Generic[T],
    PropertiesExtension,
    ExtensionManagementMixin[pystac.Item | pystac.Collection],
):
    """Access to the `hephaestus:*` fields of an Item, a Collection or an Item's asset.

    `HephaestusExtension.ext(obj, add_if_missing=True)` declares the schema in `stac_extensions`
    and returns the typed view for that kind of object.
    """

    name: Final = "hephaestus"

    def _get(self, key: str) -> Any:
        return self._get_property(key, object)

    def _set(self, key: str, value: Any) -> None:
        self._set_property(key, value, pop_if_none=True)

    @classmethod
    def get_schema_uri(cls) -> str:
        return SCHEMA_URI

    @classmethod
    def ext(cls, obj: T, add_if_missing: bool = False) -> HephaestusExtension[T]:
        if isinstance(obj, pystac.Item):
            cls.ensure_has_extension(obj, add_if_missing)
            return cast(HephaestusExtension[T], ItemHephaestusExtension(obj))
        if isinstance(obj, pystac.Collection):
            cls.ensure_has_extension(obj, add_if_missing)
            return cast(HephaestusExtension[T], CollectionHephaestusExtension(obj))
        if isinstance(obj, pystac.Asset):
            cls.ensure_owner_has_extension(obj, add_if_missing)
            return cast(HephaestusExtension[T], AssetHephaestusExtension(obj))
        raise pystac.ExtensionTypeError(cls._ext_error_message(obj))


class ItemHephaestusExtension(HephaestusExtension[pystac.Item]):
    """The Item of one cube: its frame, the volcanoes it covers and its pair counts."""

    def __init__(self, item: pystac.Item) -> None:
        self.item = item
        self.properties = item.properties

    def apply(
        self,
        *,
        frame_id: str,
        volcanoes: list[str],
        pairs: int,
        usable_pairs: int,
        positive_pairs: int,
        cube_version: str | None = None,
    ) -> None:
        self._set(FRAME_ID, frame_id)
        self._set(CUBE_VERSION, cube_version)
        self._set(VOLCANOES, list(volcanoes))
        self._set(PAIRS, int(pairs))
        self._set(USABLE_PAIRS, int(usable_pairs))
        self._set(POSITIVE_PAIRS, int(positive_pairs))

    @property
    def frame_id(self) -> str | None:
        return self._get(FRAME_ID)

    @property
    def pairs(self) -> int | None:
        return self._get(PAIRS)

    @property
    def cube_version(self) -> str | None:
        return self._get(CUBE_VERSION)


class AssetHephaestusExtension(HephaestusExtension[pystac.Asset]):
    """An Item's view of a shared table: the row filter that selects this Item's rows."""

    def __init__(self, asset: pystac.Asset) -> None:
        self.asset = asset
        self.properties = asset.extra_fields
        if asset.owner and isinstance(asset.owner, pystac.Item):
            self.additional_read_properties = [asset.owner.properties]

    @property
    def filter(self) -> dict[str, Any] | None:
        return self._get(FILTER)

    @filter.setter
    def filter(self, value: dict[str, Any] | None) -> None:
        self._set(FILTER, value)


class CollectionHephaestusExtension(HephaestusExtension[pystac.Collection]):
    """The Collection: the published version and how it was built (series length, seed, statistics)."""

    def __init__(self, collection: pystac.Collection) -> None:
        self.collection = collection
        self.properties = collection.extra_fields

    def apply(self, fields: dict[str, Any]) -> None:
        """Set several collection fields at once; unknown keys are refused here, not at validation."""
        unknown = sorted(set(fields) - set(COLLECTION_KEYS))
        if unknown:
            raise KeyError(f"not hephaestus collection fields: {unknown}; declare them in stac_extension.py")
        for key, value in fields.items():
            self._set(key, value)

    @property
    def version(self) -> str | None:
        return self._get(VERSION)

    @property
    def series_length(self) -> int | None:
        return self._get(SERIES_LENGTH)


COLLECTION_KEYS: Final = (
    VERSION,
    SERIES_LENGTH,
    SEED,
    TABLE2,
    PARTITIONING,
    STATISTICS,
    STATISTICS_TRAIN,
    STATISTICS_TRAIN_VOLCANO,
    SPLIT_SCHEMES,
    SOURCE,
    SKIPPED,
    ANNOTATIONS,
    AVAILABLE,
)
ITEM_KEYS: Final = (FRAME_ID, VOLCANOES, PAIRS, USABLE_PAIRS, POSITIVE_PAIRS, CUBE_VERSION)
