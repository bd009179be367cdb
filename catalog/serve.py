"""`hmc catalog serve`: a minimal, read-only STAC API over a store's published catalog.

Built on the standard library's `http.server` (no web framework: stac-fastapi-geoparquet does not run with the
installed FastAPI / stac-fastapi, docs/guide.md) and on `catalog.search`, which does every search, so the
server and `hmc catalog search` give the same Items for the same parameters. It listens on 127.0.0.1 only.

Endpoints: `/` (landing page), `/conformance`, `/collections`, `/collections/{id}`,
`/collections/{id}/items`, `/collections/{id}/items/{item_id}`, `GET /search` and `POST /search`. There is
no paging: a search returns every matching Item up to `limit` in one page (`numberReturned`; no `next`
link). Bad parameters are 400 and unknown paths or Items 404, with a JSON body `{"code", "description"}`.

The published version is read from the pointer on every request, so a catalog republished while the server
runs is served at once. Its items.parquet is made local once per version (copied to scratch from object
storage) and searched under one lock with one rustac client: the catalog holds one Item per frame, so a
search takes milliseconds and requests need not run in parallel.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from hephaestus.catalog.publish import CatalogNotFoundError
from hephaestus.catalog.read import resolve_version
from hephaestus.catalog.search import client, local_items, search_file
from hephaestus.platform import storage
from hephaestus.platform.errors import InputError, InputNotFoundError
from hephaestus.platform.layout import StoreLayout

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
"""The only interface served: the server has no authentication and is meant for this machine."""

LANDING_ID = "hephaestus"
JSON = "application/json"
GEOJSON = "application/geo+json"

_STAC_API = "https://api.stacspec.org/v1.0.0"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf"
CONFORMANCE: tuple[str, ...] = (
    f"{_STAC_API}/core",
    f"{_STAC_API}/collections",
    f"{_STAC_API}/ogcapi-features",
    f"{_STAC_API}/item-search",
    f"{_STAC_API}/item-search#filter",
    f"{_STAC_API}/item-search#sort",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    f"{_CQL2}/cql2-text",
    f"{_CQL2}/cql2-json",
    f"{_CQL2}/basic-cql2",
    f"{_CQL2}/advanced-comparison-operators",  # LIKE, BETWEEN, IN
    f"{_CQL2}/case-insensitive-comparison",  # CASEI
    f"{_CQL2}/basic-spatial-functions",  # S_INTERSECTS with a point or a bbox
)
"""What `catalog.search` really supports (each CQL2 class is exercised by tests/catalog/test_catalog_serve.py);
no queryables, fields, query or paging."""

SEARCH_PARAMS = (
    "bbox",
    "intersects",
    "datetime",
    "ids",
    "collections",
    "filter",
    "filter-lang",
    "sortby",
    "limit",
)
ITEMS_PARAMS = ("bbox", "datetime", "ids", "collections", "filter", "filter-lang", "sortby", "limit")
"""`/collections/{id}/items` takes the item-search parameters bar the geometry."""


class ApiError(InputError):
    """An HTTP error answered with a JSON body `{"code", "description"}` (a client's bad request, never raised
    past the server)."""

    def __init__(self, status: HTTPStatus, description: str) -> None:
        super().__init__(description)
        self.status = status


def _not_found(what: str) -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, f"{what} not found")


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return "; ".join(lines) or type(exc).__name__


# request parameters ----------------------------------------------------------------------------------
def _sortby(value: Any) -> list[str] | None:
    """GET `-a,+b` (a '+' may arrive as a space) or POST `[{"field", "direction"}]` as `["-a", "b"]`."""
    if value is None:
        return None
    entries = value.split(",") if isinstance(value, str) else value
    if not isinstance(entries, list):
        raise InputError("sortby is a comma-separated string or a list")
    out = []
    for entry in entries:
        if isinstance(entry, dict):
            field, direction = entry.get("field"), entry.get("direction", "asc")
            if not isinstance(field, str) or direction not in ("asc", "desc"):
                raise InputError(f"bad sortby entry {entry!r}: {{'field': NAME, 'direction': 'asc'|'desc'}}")
            out.append(("-" if direction == "desc" else "") + field)
        elif isinstance(entry, str) and entry.strip().lstrip("+"):
            out.append(entry.strip().lstrip("+"))
        else:
            raise InputError(f"bad sortby entry {entry!r}")
    return out


def search_params(params: Mapping[str, Any], allowed: tuple[str, ...] = SEARCH_PARAMS) -> dict[str, Any]:
    """STAC API item-search parameters (GET strings or a POST body) as `catalog.search` keywords;
    InputError for unknown or malformed ones (an ignored parameter would widen the search silently)."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(f"unsupported parameter(s) {', '.join(unknown)}; supported: {', '.join(allowed)}")
    out: dict[str, Any] = {k.replace("-", "_"): v for k, v in params.items() if v is not None}
    bbox = out.get("bbox")
    if bbox is not None:
        try:
            out["bbox"] = [float(v) for v in (bbox.split(",") if isinstance(bbox, str) else bbox)]
        except (TypeError, ValueError) as exc:
            raise InputError(f"bbox takes four numbers west,south,east,north, not {bbox!r}") from exc
    if "limit" in out:
        try:
            out["limit"] = int(out["limit"])
        except (TypeError, ValueError) as exc:
            raise InputError(f"limit is a whole number, not {out['limit']!r}") from exc
    if "sortby" in out:
        out["sortby"] = _sortby(out["sortby"])
    return out


# the catalog ---------------------------------------------------------------------------------------------
class Catalog:
    """The store's published catalog as the server sees it: the pointer read per request, items.parquet made
    local once per version, searches run one at a time with one rustac client."""

    def __init__(self, store_url: str) -> None:
        self.store_url = storage.normalize(store_url)
        self.layout = StoreLayout(self.store_url)
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        self._version: str | None = None
        self._path: Path | None = None
        self._client: Any = None

    def collection(self) -> dict:
        """The published collection.json (the pointer)."""
        return resolve_version(self.store_url)[1]

    def search(self, **params: Any) -> tuple[list[dict], str]:
        """(matching Items, the searched items.parquet as a path from the store root: their hrefs' base)."""
        version, _ = resolve_version(self.store_url)
        with self._lock:
            if version.version != self._version:
                self._stack.close()
                self._path = self._stack.enter_context(local_items(self.store_url))
                self._version = version.version
            if self._client is None:
                self._client = client()
            return search_file(self._path, duckdb_client=self._client, **params), version.geoparquet_path

    def close(self) -> None:
        with self._lock:
            self._stack.close()
            self._version = self._path = None

    def absolute(self, document: str, href: str) -> str:
        """An href stored relative to a document of the store (a path from the store root) as a URL."""
        return storage.redact(self.layout.resolve_href(document, href))


# documents -------------------------------------------------------------------------------------------------
class Api:
    """The STAC API documents of one catalog, with links under `base` (http://127.0.0.1:PORT)."""

    def __init__(self, catalog: Catalog, base: str) -> None:
        self.catalog = catalog
        self.base = base.rstrip("/")

    def url(self, path: str) -> str:
        return self.base + path

    def link(self, rel: str, path: str, type_: str = JSON, **extra: Any) -> dict:
        return {"rel": rel, "href": self.url(path), "type": type_, **extra}

    def landing(self) -> dict:
        coll = self.catalog.collection()
        return {
            "type": "Catalog",
            "stac_version": coll.get("stac_version", "1.1.0"),
            "id": LANDING_ID,
            "title": f"{coll.get('title', coll['id'])} (hmc catalog serve)",
            "description": "Read-only STAC API over the published catalog of one Hephaestus store.",
            "conformsTo": list(CONFORMANCE),
            "links": [
                self.link("self", "/"),
                self.link("root", "/"),
                self.link("conformance", "/conformance"),
                self.link("data", "/collections"),
                self.link("child", f"/collections/{coll['id']}", title=coll.get("title")),
                self.link("search", "/search", GEOJSON, method="GET"),
                self.link("search", "/search", GEOJSON, method="POST"),
            ],
        }

    def collection(self, collection_id: str | None = None) -> dict:
        """The published collection with API links (its file links dropped, other hrefs made absolute)."""
        coll = self.catalog.collection()
        if collection_id is not None and collection_id != coll["id"]:
            raise _not_found(f"collection {collection_id!r}")
        pointer = f"{StoreLayout.CATALOG_DIR}/collection.json"
        api_rels = {"self", "root", "parent", "child", "item", "items", "collection"}
        links = [
            {**ln, "href": self.catalog.absolute(pointer, ln["href"])}
            for ln in coll.get("links", [])
            if ln.get("rel") not in api_rels
        ]
        path = f"/collections/{coll['id']}"
        links += [
            self.link("self", path),
            self.link("root", "/"),
            self.link("parent", "/"),
            self.link("items", f"{path}/items", GEOJSON),
        ]
        assets = {
            key: {**asset, "href": self.catalog.absolute(pointer, asset["href"])}
            for key, asset in (coll.get("assets") or {}).items()
        }
        return {**coll, "links": links, **({"assets": assets} if assets else {})}

    def collections(self) -> dict:
        return {
            "collections": [self.collection()],
            "links": [self.link("self", "/collections"), self.link("root", "/")],
        }

    def _item(self, item: dict, document: str) -> dict:
        """An Item of the mirror with API links and its assets' hrefs as URLs (stored relative to the file)."""
        path = f"/collections/{item.get('collection')}"
        assets = {
            key: {**asset, "href": self.catalog.absolute(document, asset["href"])}
            for key, asset in (item.get("assets") or {}).items()
        }
        links = [
            self.link("self", f"{path}/items/{item['id']}", GEOJSON),
            self.link("parent", path),
            self.link("collection", path),
            self.link("root", "/"),
        ]
        return {**item, "links": links, "assets": assets}

    def search(self, self_path: str, **params: Any) -> dict:
        """The ItemCollection of `catalog.search` for these parameters (one page: no `next` link)."""
        items, document = self.catalog.search(**params)
        return self.page([self._item(item, document) for item in items], self_path)

    def page(self, features: list[dict], self_path: str) -> dict:
        """An ItemCollection of these Items, the whole result (no `next` link)."""
        return {
            "type": "FeatureCollection",
            "features": features,
            "numberReturned": len(features),
            "links": [self.link("self", self_path, GEOJSON), self.link("root", "/")],
        }

    def items(self, collection_id: str, query: Mapping[str, Any], self_path: str) -> dict:
        """The collection's Items matching the parameters (a `collections` parameter, as pystac-client sends
        it, must name this collection, else nothing matches)."""
        coll = self.collection(collection_id)
        params = search_params(query, ITEMS_PARAMS)
        wanted = params.pop("collections", None)
        if isinstance(wanted, str):
            wanted = [w.strip() for w in wanted.split(",")]
        if wanted is not None and coll["id"] not in wanted:
            result = self.page([], self_path)
        else:
            result = self.search(self_path, collections=[coll["id"]], **params)
        result["links"].append(self.link("parent", f"/collections/{coll['id']}"))
        return result

    def item(self, collection_id: str, item_id: str) -> dict:
        coll = self.collection(collection_id)
        found = self.search("/search", collections=[coll["id"]], ids=[item_id])["features"]
        if not found:
            raise _not_found(f"item {item_id!r} of collection {collection_id!r}")
        return found[0]

    def get(self, path: str, query: Mapping[str, str]) -> tuple[dict, str]:
        """(document, content type) of a GET request."""
        parts = [p for p in path.split("/") if p]
        match parts:
            case []:
                return self.landing(), JSON
            case ["conformance"]:
                return {"conformsTo": list(CONFORMANCE)}, JSON
            case ["collections"]:
                return self.collections(), JSON
            case ["collections", cid]:
                return self.collection(cid), JSON
            case ["collections", cid, "items"]:
                return self.items(cid, query, _with_query(path, query)), GEOJSON
            case ["collections", cid, "items", iid]:
                return self.item(cid, iid), GEOJSON
            case ["search"]:
                return self.search(_with_query(path, query), **search_params(query)), GEOJSON
        raise _not_found(f"path {path}")

    def post(self, path: str, body: bytes) -> tuple[dict, str]:
        if path.rstrip("/") != "/search":
            if path.rstrip("/") in ("", "/conformance") or path.startswith("/collections"):
                raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} answers GET only")
            raise _not_found(f"path {path}")
        try:
            params = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            raise InputError(f"the search body is not JSON: {exc}") from exc
        if not isinstance(params, dict):
            raise InputError("the search body is a JSON object")
        return self.search("/search", **search_params(params)), GEOJSON


def _with_query(path: str, query: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(query)}" if query else path


# HTTP ---------------------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: StacApiServer
    server_version = "hmc-catalog-serve"

    def _send(self, status: HTTPStatus, doc: dict, content_type: str = JSON) -> None:
        data = json.dumps(doc, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _answer(self, method: str) -> None:
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        try:
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                doc, ctype = self.server.api.post(path, self.rfile.read(length))
            else:
                query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                doc, ctype = self.server.api.get(path, query)
        except ApiError as exc:
            self._error(exc.status, str(exc))
        except (InputNotFoundError, CatalogNotFoundError) as exc:
            self._error(HTTPStatus.NOT_FOUND, _one_line(exc))
        except InputError as exc:
            self._error(HTTPStatus.BAD_REQUEST, _one_line(exc))
        except Exception as exc:  # a bug or the store failing: logged here, one line to the client
            log.exception("%s %s failed", method, path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"the request failed ({type(exc).__name__})")
        else:
            self._send(HTTPStatus.OK, doc, ctype)

    def _error(self, status: HTTPStatus, description: str) -> None:
        code = status.phrase.replace(" ", "")
        self._send(status, {"code": code, "description": description})

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        log.info("%s - %s", self.address_string(), format % args)


class StacApiServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer answering the STAC API of one store's catalog (`make_server`)."""

    daemon_threads = True

    def __init__(self, store_url: str, port: int = 0) -> None:
        self.catalog = Catalog(store_url)
        super().__init__((HOST, port), _Handler)
        self.api = Api(self.catalog, self.url)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def server_close(self) -> None:
        super().server_close()
        self.catalog.close()


def make_server(store_url: str, port: int = 0) -> StacApiServer:
    """A STAC API server of the store's published catalog bound to 127.0.0.1:`port` (0: a free port), not
    yet serving (call `serve_forever`, then `shutdown` and `server_close`). The catalog and its
    stac-geoparquet mirror are read once here, so a store without them is an InputError before it serves."""
    server = StacApiServer(store_url, port)
    try:
        server.catalog.search(limit=1)
    except BaseException:
        server.server_close()
        raise
    return server
