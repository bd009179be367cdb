"""STAC API item search over a store's catalog, offline: the published stac-geoparquet mirror
(`catalog/<VERSION>/items.parquet`) searched with rustac's DuckDB client.

rustac was chosen by measurement (tests/benchmarks/bench_search.py, docs/guide.md): it takes the STAC API
item-search parameters as they are (bbox, intersects, ids, collections, CQL2 filter, sortby, limit) and
brings its own DuckDB with the spatial extension (from `rustac-duckdb-extensions`, so nothing is
downloaded). Two things are done here, not by rustac:

- the CQL2 filter is parsed first with `cql2`, so that a malformed filter is an error (rustac returns no
  items for it) and cql2-text and cql2-json are the same expression;
- `datetime` follows the STAC API: an Item matches when its `datetime`, or its
  `start_datetime`..`end_datetime` interval, intersects the requested instant or interval (rustac asks
  the interval to lie inside the request; a cube spans months). It is sent to rustac as a CQL2 filter.

On object storage the file is copied once to local scratch through the platform's storage layer (the
mirror holds one row per frame), so DuckDB needs no credentials or httpfs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hephaestus.catalog.read import resolve_version
from hephaestus.platform import storage
from hephaestus.platform.errors import InputError

FILTER_LANGS = ("cql2-text", "cql2-json")
OPEN_END = ("..", "")


def _cql2_error(exc: Exception) -> str:
    """The first informative line of a cql2 parse error (they span several lines with a caret)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = next((ln.lstrip("= ") for ln in lines if ln.startswith("=")), lines[0] if lines else "")
    return detail or type(exc).__name__


def parse_filter(filter: str | dict | None, filter_lang: str | None = None) -> dict | None:
    """A CQL2 filter (text, JSON text or a JSON dict) as cql2-json; InputError when it does not parse."""
    import cql2

    if filter is None:
        return None
    lang = filter_lang or ("cql2-json" if isinstance(filter, dict) else "cql2-text")
    if lang not in FILTER_LANGS:
        raise InputError(f"filter-lang must be one of {', '.join(FILTER_LANGS)}, not {lang!r}")
    try:
        if lang == "cql2-json":
            expr = cql2.parse_json(filter if isinstance(filter, str) else json.dumps(filter))
        else:
            if not isinstance(filter, str):
                raise InputError("a cql2-text filter is a string")
            expr = cql2.parse_text(filter)
        expr.validate()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        raise InputError(f"bad {lang} filter: {_cql2_error(exc)}") from exc
    return expr.to_json()


def _instant(text: str) -> str | None:
    """One end of a datetime parameter as RFC 3339 UTC; None for an open end."""
    if text in OPEN_END:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"bad datetime {text!r}: expected RFC 3339 (2018-01-05T00:00:00Z) or '..'") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def datetime_filter(datetime: str) -> dict:
    """The STAC API datetime parameter (instant, `a/b`, `../b`, `a/..`) as a cql2-json intersection test."""
    parts = datetime.split("/")
    if len(parts) > 2:
        raise InputError(f"bad datetime {datetime!r}: one instant or one interval start/end")
    start, end = _instant(parts[0]), _instant(parts[-1])
    if len(parts) == 1 and start is None:
        raise InputError("datetime '..' needs the other end of the interval")

    def cmp(op: str, prop: str, when: str) -> dict:
        return {"op": op, "args": [{"property": prop}, {"timestamp": when}]}

    def both(args: list[dict]) -> dict:
        return args[0] if len(args) == 1 else {"op": "and", "args": args}

    if start is None and end is None:
        return {
            "op": "or",
            "args": [
                {"op": "not", "args": [{"op": "isNull", "args": [{"property": p}]}]}
                for p in ("datetime", "start_datetime")
            ],
        }
    instant = [cmp(">=", "datetime", start)] if start else []
    instant += [cmp("<=", "datetime", end)] if end else []
    interval = [cmp(">=", "end_datetime", start)] if start else []
    interval += [cmp("<=", "start_datetime", end)] if end else []
    return {"op": "or", "args": [both(instant), both(interval)]}


def _geometry(intersects: str | dict | None) -> dict | None:
    if intersects is None or isinstance(intersects, dict):
        return intersects
    try:
        geom = json.loads(intersects)
    except json.JSONDecodeError as exc:
        raise InputError(f"intersects is not GeoJSON: {exc}") from exc
    if not isinstance(geom, dict) or "type" not in geom:
        raise InputError("intersects is not a GeoJSON geometry (an object with a type)")
    return geom


def _bbox(bbox: Sequence[float] | None) -> list[float] | None:
    if bbox is None:
        return None
    values = [float(v) for v in bbox]
    if len(values) not in (4, 6):
        raise InputError(f"bbox needs 4 numbers (west,south,east,north), got {len(values)}")
    return values


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return [v.strip() for v in items if v.strip()]


@contextlib.contextmanager
def local_items(store_url: str | os.PathLike[str]) -> Iterator[Path]:
    """The store's published items.parquet as a local file (copied to scratch from object storage)."""
    version, _ = resolve_version(store_url)
    url = version.geoparquet
    if not storage.exists(url):
        raise InputError(
            f"{storage.redact(str(url))} does not exist: build the catalog with --geoparquet to search it"
        )
    if storage.is_local(url):
        yield Path(storage.location(url).path)
        return
    with storage.local_scratch("hmc-search-") as tmp:
        path = tmp / "mirror.parquet"  # scratch: the store's name for it is `url`
        path.write_bytes(storage.read_bytes(url))
        yield path


def client() -> Any:
    """rustac's DuckDB client with the spatial extension bundled in `rustac-duckdb-extensions` (no download)."""
    from rustac import DuckdbClient
    from rustac_duckdb_extensions import extension_directory

    return DuckdbClient(extension_directory=extension_directory(), install_extensions=False)


MAX_FILTER_TERMS = 256
"""Most AND-terms a filter may expand to in disjunctive normal form (`_without_nested_or`)."""


def _all_of(*clauses: dict | None) -> dict | None:
    """One cql2-json filter that every given clause must pass, in a form rustac renders correctly.

    Every search parameter goes to rustac inside this one filter, in disjunctive normal form: rustac
    0.9.9 writes a filter's SQL without parentheses, both when it joins a separate `bbox`, `ids` or
    `intersects` to the filter and when an OR stands inside an AND, so `(a OR b) AND c` ran as
    `a OR (b AND c)` (the datetime filter is always such an OR; tests/catalog/test_catalog_search.py).
    An OR of ANDs of plain comparisons reads the same with or without parentheses.
    """
    given = [c for c in clauses if c]
    if not given:
        return None
    return _without_nested_or(given[0] if len(given) == 1 else {"op": "and", "args": given})


def _negated(expr: dict) -> dict:
    """NOT `expr`, pushed down through AND, OR and NOT (De Morgan)."""
    op, args = expr.get("op"), expr.get("args", [])
    if op == "and":
        return {"op": "or", "args": [_negated(a) for a in args]}
    if op == "or":
        return {"op": "and", "args": [_negated(a) for a in args]}
    if op == "not":
        return args[0]
    return {"op": "not", "args": [expr]}


def _terms(expr: dict) -> list[list[dict]]:
    """`expr` as an OR of AND-terms of comparisons (each term a list)."""
    op, args = expr.get("op"), expr.get("args", [])
    if op == "and":
        terms: list[list[dict]] = [[]]
        for arg in args:
            terms = [t + u for t in terms for u in _terms(arg)]
            if len(terms) > MAX_FILTER_TERMS:
                raise InputError(f"filter too complex: more than {MAX_FILTER_TERMS} AND-terms once expanded")
        return terms
    if op == "or":
        return [t for arg in args for t in _terms(arg)]
    if op == "not" and args and isinstance(args[0], dict) and args[0].get("op") in ("and", "or", "not"):
        return _terms(_negated(args[0]))
    return [[expr]]


def _without_nested_or(expr: dict) -> dict:
    """`expr` in disjunctive normal form: no OR inside an AND or a NOT."""
    terms = [t[0] if len(t) == 1 else {"op": "and", "args": t} for t in _terms(expr)]
    return terms[0] if len(terms) == 1 else {"op": "or", "args": terms}


def _spatial(bbox: Sequence[float] | None, intersects: str | dict | None) -> dict | None:
    """The bbox and intersects parameters as cql2-json S_INTERSECTS tests on the geometry."""
    box = _bbox(bbox)
    shapes = ({"bbox": box} if box else None, _geometry(intersects))
    return _all_of(*({"op": "s_intersects", "args": [{"property": "geometry"}, s]} for s in shapes if s))


def _one_of(prop: str, values: list[str] | None) -> dict | None:
    return None if values is None else {"op": "in", "args": [{"property": prop}, values]}


def search_file(
    path: str | os.PathLike[str],
    *,
    bbox: Sequence[float] | None = None,
    intersects: str | dict | None = None,
    datetime: str | None = None,
    ids: str | Sequence[str] | None = None,
    collections: str | Sequence[str] | None = None,
    filter: str | dict | None = None,
    filter_lang: str | None = None,
    sortby: str | Sequence[str] | None = None,
    limit: int | None = None,
    duckdb_client: Any = None,
) -> list[dict]:
    """Items of one local stac-geoparquet file matching the STAC API item-search parameters."""
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, not {limit}")
    params: dict[str, Any] = {
        "filter": _all_of(
            parse_filter(filter, filter_lang),
            datetime and datetime_filter(datetime),
            _spatial(bbox, intersects),
            _one_of("id", _names(ids)),
            _one_of("collection", _names(collections)),
        ),
        "sortby": _names(sortby),
        "limit": limit,
    }
    items = (duckdb_client or client()).search(
        str(path), **{k: v for k, v in params.items() if v is not None}
    )
    for item in items:  # STAC: properties.datetime is required, null when start/end_datetime are given
        item.setdefault("properties", {}).setdefault("datetime", None)
    return items


def search(store_url: str | os.PathLike[str], **params: Any) -> dict:
    """The published catalog's Items matching the STAC API item-search parameters, as a GeoJSON
    ItemCollection (`type: FeatureCollection`). Parameters: see `search_file`."""
    with local_items(store_url) as path:
        items = search_file(path, **params)
    return {"type": "FeatureCollection", "features": items, "numberReturned": len(items)}
