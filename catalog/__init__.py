"""Catalog stage: STAC collection, Parquet pair index, series table and statistics of a minicube store.

Readers resolve the published version once per call (`STORE/catalog/collection.json` is the
pointer), so they see a complete catalog, old or new, never a mix.
"""

from hephaestus.catalog.annotations import AnnotationError, load_annotations, load_available
from hephaestus.catalog.build import (
    BuildReport,
    CatalogBuildError,
    CatalogConfig,
    build_catalog,
    catalog_from_annotations,
    table2_counts,
)
from hephaestus.catalog.pairs import PAIR_SCHEMA
from hephaestus.catalog.publish import CatalogNotFoundError
from hephaestus.catalog.read import (
    SeriesLengthError,
    SplitSchemeError,
    connect,
    query,
    read_pairs,
    read_series,
    read_series_length,
    read_statistics,
    read_train_statistics,
    resolve,
)
from hephaestus.catalog.series import SERIES_SCHEMA, build_series
from hephaestus.platform.cube import CubeUnreadableError

__all__ = [
    "PAIR_SCHEMA",
    "SeriesLengthError",
    "SplitSchemeError",
    "SERIES_SCHEMA",
    "AnnotationError",
    "BuildReport",
    "CatalogBuildError",
    "CatalogConfig",
    "CatalogNotFoundError",
    "CubeUnreadableError",
    "build_catalog",
    "build_series",
    "catalog_from_annotations",
    "connect",
    "load_annotations",
    "load_available",
    "query",
    "read_pairs",
    "read_series",
    "read_series_length",
    "read_statistics",
    "read_train_statistics",
    "resolve",
    "table2_counts",
]
