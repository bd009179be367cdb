"""Read a published catalog: pairs, series, statistics, and DuckDB SQL over views `pairs` and `series`.

Every call resolves the pointer (`STORE/catalog/collection.json`) once and reads that version only.

`cube_url` is stored relative to the store root (`cubes/<FRAME>.zarr`, StoreLayout.relative) so that a
copied store reads its own cubes; `read_pairs`, `read_series` and the DuckDB views `pairs` and
`series` give it back resolved against the store URL they were given (StoreLayout.resolve; absolute
values of catalogs published before stay as they are). `read_version_*` give the stored values.
"""

from __future__ import annotations

import os

import duckdb
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.fs as pafs

from hephaestus.catalog.pairs import PAIR_SCHEMA, conform, sort_pairs
from hephaestus.catalog.publish import HIVE_NULL, PARTITIONING_KEY, VERSION_KEY, read_pointer
from hephaestus.catalog.series import SERIES_SCHEMA
from hephaestus.platform import schema, storage
from hephaestus.platform import stac_extension as hx
from hephaestus.platform.errors import InputError
from hephaestus.platform.layout import CatalogVersion, StoreLayout

STATISTICS_KEY = hx.STATISTICS
SERIES_LENGTH_KEY = hx.SERIES_LENGTH
TRAIN_STATISTICS_KEY = hx.STATISTICS_TRAIN
LEGACY_PAIR_KEYS = ["split", "frame_id"]
"""The pair layout of catalogs whose collection does not record one (built before it was recorded)."""


def resolve(store_url: str | os.PathLike[str]) -> tuple[str, dict]:
    """(URL of the published version, collection JSON) of a store."""
    version, coll = resolve_version(store_url)
    return version.url, coll


def resolve_version(store_url: str | os.PathLike[str]) -> tuple[CatalogVersion, dict]:
    """(the published version's files, collection JSON) of a store: the pointer is read once."""
    coll = read_pointer(storage.normalize(store_url))
    return StoreLayout(store_url).catalog_version(str(coll[VERSION_KEY])), coll


def _arrow_fs(url: str) -> tuple[pafs.FileSystem, str]:
    loc = storage.location(url)
    if storage.is_local(url):
        return pafs.LocalFileSystem(), loc.path
    return pafs.PyFileSystem(pafs.FSSpecHandler(loc.fs)), loc.path


def _files(base_url: str, pattern: str) -> list[str]:
    loc = storage.location(base_url)
    return sorted(loc.fs.glob(f"{loc.path.rstrip('/')}/{pattern}"))


def _read(base_url: str, pattern: str, schema_: pa.Schema, filt: pds.Expression | None) -> pa.Table:
    files = _files(base_url, pattern)
    if not files:
        return schema_.empty_table()
    fs, _ = _arrow_fs(base_url)
    dataset = pds.dataset(files, format="parquet", filesystem=fs)
    table = dataset.to_table(filter=filt)
    return conform(table, schema_)


CUBE_URL = "cube_url"


def resolve_cube_urls(table: pa.Table, store: StoreLayout) -> pa.Table:
    """`table` with its stored cube_url values (relative to the store root) resolved to URLs under `store`."""
    if CUBE_URL not in table.column_names or table.num_rows == 0:
        return table
    refs = table[CUBE_URL].to_pylist()
    resolved = {r: store.resolve(r) for r in set(refs) if r is not None}
    column = pa.array([None if r is None else resolved[r] for r in refs], pa.string())
    return table.set_column(table.schema.get_field_index(CUBE_URL), table.schema.field(CUBE_URL), column)


def _split_segment(split: str | None) -> str:
    return "*" if split is None else f"split={storage.safe_component(split, what='split')}"


class SplitSchemeError(InputError):
    """A read asks for a split scheme the catalog does not hold (built before it, or unknown)."""


def _scheme_column(store_url: str | os.PathLike[str], coll: dict, scheme: str) -> str:
    """The column of `scheme` in this catalog; refuses an unknown scheme and a catalog built before it."""
    where = storage.redact(storage.normalize(store_url))
    try:
        column = schema.split_column(scheme)
    except ValueError as exc:
        raise SplitSchemeError(f"{where}: {exc}") from None
    if column != "split" and scheme not in (coll.get(hx.SPLIT_SCHEMES) or {}):
        raise SplitSchemeError(
            f"{where}: the catalog has no {scheme!r} split (built before split schemes); "
            "rebuild it with `hmc catalog build`"
        )
    return column


def _split_filter(column: str, split: str | None) -> tuple[pds.Expression | None, str]:
    """(row filter, partition pattern) selecting `split` of `column`: the paper's split by partition, any
    other scheme's by its column over every partition."""
    if split is None:
        return None, "*"
    if column == "split":
        return None, _split_segment(split)
    storage.safe_component(split, what="split")
    return pds.field(column) == split, "*"


def read_pairs(
    store_url: str | os.PathLike[str],
    split: str | None = None,
    frame_id: str | None = None,
    usable_only: bool = False,
    split_scheme: str = schema.DEFAULT_SPLIT_SCHEME,
) -> pa.Table:
    """The pair index (all rows with `split=None`); only the partitions (or row groups) asked for are read.

    Default layout (`split`): a split's file, of which only the row groups whose frame_id statistics can
    hold `frame_id` are read. Catalogs built with `split/frame_id` (recorded in the collection; older
    ones that record nothing) read the frame's file by path. `split_scheme` (schema.SPLIT_SCHEMES) says
    which column `split` selects by: "paper" (`split`, by primary date) or "volcano" (`volcano_split`,
    whole volcanoes held out; a catalog built before it is refused with one line).
    """
    version, coll = resolve_version(store_url)
    keys = (coll.get(PARTITIONING_KEY) or {}).get("pairs", LEGACY_PAIR_KEYS)
    column = _scheme_column(store_url, coll, split_scheme)
    filt, pattern = _split_filter(column, split)
    if usable_only:
        filt = pds.field("usable") if filt is None else filt & pds.field("usable")
    if frame_id is not None:
        storage.safe_component(frame_id, what="frame_id")
        expr = pds.field("frame_id") == frame_id
        filt = expr if filt is None else filt & expr
    if "frame_id" in keys:
        pattern += "/*" if frame_id is None else f"/frame_id={frame_id}"
    table = _read(version.pairs_index, f"{pattern}/*.parquet", PAIR_SCHEMA, filt)
    return sort_pairs(resolve_cube_urls(table, StoreLayout(store_url)))


def read_version_pairs(version: CatalogVersion) -> pa.Table:
    """Every row of one version's pair index (whatever its layout), in the index's order, with cube_url
    as stored (relative to the store: what a build compares between versions)."""
    return sort_pairs(_read(version.pairs_index, "**/*.parquet", PAIR_SCHEMA, None))


def read_version_series(version: CatalogVersion) -> pa.Table:
    """Every row of one version's series table (cube_url as stored)."""
    return _read(version.series_index, "**/*.parquet", SERIES_SCHEMA, None)


def read_series(
    store_url: str | os.PathLike[str],
    split: str | None = None,
    split_scheme: str = schema.DEFAULT_SPLIT_SCHEME,
) -> pa.Table:
    """The series table (all rows with `split=None`); `split_scheme` as in `read_pairs` (a series is
    in its frame's volcano split)."""
    version, coll = resolve_version(store_url)
    filt, pattern = _split_filter(_scheme_column(store_url, coll, split_scheme), split)
    table = _read(version.series_index, f"{pattern}/*.parquet", SERIES_SCHEMA, filt)
    return resolve_cube_urls(table, StoreLayout(store_url)).sort_by([("series_id", "ascending")])


class SeriesLengthError(InputError):
    """A run asks for series of another length than the catalog's series table holds."""


def read_series_length(store_url: str | os.PathLike[str], requested: int | None = None) -> int:
    """Pairs per series of the published catalog (`hmc catalog build -T N`), as its collection records it.

    `requested` (a run's or loader's own setting, None: the catalog's) must match: the series table was
    built for one length and cannot be read as another.
    """
    _, coll = resolve(store_url)
    length = int(coll.get(SERIES_LENGTH_KEY) or schema.SERIES_LENGTH)
    if requested is not None and requested != length:
        raise SeriesLengthError(
            f"{storage.redact(storage.normalize(store_url))}: the catalog holds series of {length} pairs, "
            f"not {requested}; rebuild it with `hmc catalog build -T {requested}` or drop the series length"
        )
    return length


def read_statistics(store_url: str | os.PathLike[str]) -> dict[str, tuple[float, float]]:
    """(mean, std) per statistics key, from the collection; the authors' values where it has none
    (a key with neither, an optional field no cube holds yet, is left out)."""
    out = {
        k: schema.AUTHORS_STATISTICS[k] for k in schema.statistics_keys() if k in schema.AUTHORS_STATISTICS
    }
    try:
        _, coll = resolve(store_url)
    except FileNotFoundError:
        return out
    keys = set(schema.statistics_keys())
    for key, entry in (coll.get(STATISTICS_KEY) or {}).items():
        if key in keys and entry.get("count", 0) and entry.get("std", 0) > 0:
            out[key] = (float(entry["mean"]), float(entry["std"]))
    return out


def read_train_statistics(
    store_url: str | os.PathLike[str], split_scheme: str = schema.DEFAULT_SPLIT_SCHEME
) -> dict[str, tuple[float, float]]:
    """(mean, std) per statistics key over the train split only (of `split_scheme`: the paper's by
    default, or the volcano scheme's train frames); refuses a catalog without them."""
    _, coll = resolve(store_url)
    _scheme_column(store_url, coll, split_scheme)
    table = coll.get(hx.STATISTICS_TRAIN_BY_SCHEME[split_scheme])
    where = storage.redact(str(store_url))
    if not table:
        raise InputError(
            f"{where}: the catalog has no train-split statistics (rebuild it with `hmc catalog build`, "
            "or train with statistics 'authors')"
        )
    out = {}
    required = set(schema.statistics_keys(required_only=True))
    for key in schema.statistics_keys():
        entry = table.get(key) or {}
        if not entry.get("count") or not entry.get("std"):
            if key not in required:
                continue  # an optional field the train split's cubes predate: no model input needs it
            raise InputError(f"{where}: the train split has no usable pixels of {key!r} for statistics")
        out[key] = (float(entry["mean"]), float(entry["std"]))
    return out


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _glob_url(url: str) -> str:
    if storage.is_local(url):
        return storage.location(url).path
    return url


def connect(store_url: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with views `pairs` and `series` on the published version.

    Object stores are reached through the fsspec filesystem registered with DuckDB (no httpfs).
    Both views give `cube_url` resolved against `store_url` (StoreLayout.resolve_sql).
    """
    version, _ = resolve_version(store_url)
    con = duckdb.connect()
    if not storage.is_local(version.url):
        con.register_filesystem(storage.location(version.url).fs)
    cube_url = StoreLayout(store_url).resolve_sql(CUBE_URL)
    for view, index in (("pairs", version.pairs_index), ("series", version.series_index)):
        glob = _glob_url(index) + "/**/*.parquet"
        con.execute(
            f"CREATE VIEW {view} AS SELECT * REPLACE ({cube_url} AS {CUBE_URL}) "
            f"FROM read_parquet({_sql_literal(glob)}, hive_partitioning = true)"
        )
    return con


def query(store_url: str | os.PathLike[str], sql: str) -> pa.Table:
    """Run DuckDB SQL over the views `pairs` and `series`; the result as an Arrow table."""
    con = connect(store_url)
    try:
        rel = con.sql(sql)
        return pa.table({}) if rel is None else rel.to_arrow_table()
    finally:
        con.close()


__all__ = [
    "HIVE_NULL",
    "connect",
    "query",
    "read_pairs",
    "read_series",
    "read_statistics",
    "read_train_statistics",
    "resolve",
]
