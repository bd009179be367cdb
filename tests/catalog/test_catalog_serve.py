"""`hmc catalog serve` (catalog/serve.py): the STAC API server on 127.0.0.1, driven by the real pystac-client
over the three known cubes of tests/catalog/search_cubes.py (same expectations as test_catalog_search.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pystac_client import Client
from pystac_client.exceptions import APIError
from search_cubes import BALI, COLLECTION_ID, ETNA, HAWAII, build_search_store

from hephaestus.catalog.serve import make_server
from hephaestus.platform.errors import InputError


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_search_store(tmp_path_factory.mktemp("serve-store"))


@pytest.fixture(scope="module")
def url(store: Path) -> Iterator[str]:
    server = make_server(str(store), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def client(url: str) -> Client:
    return Client.open(url)


def http(url: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """(status, JSON body) of a GET, or a POST when `body` is given."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url.rstrip("/") + path, data=data, method="GET" if data is None else "POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def found(client: Client, **params: object) -> list[str]:
    return [item.id for item in client.search(**params).items()]


def test_listens_on_localhost_only(url: str) -> None:
    assert url.startswith("http://127.0.0.1:")


def test_landing_page_and_conformance(client: Client, url: str) -> None:
    status, landing = http(url, "/")
    assert status == 200 and landing["type"] == "Catalog" and landing["stac_version"]
    rels = {(ln["rel"], ln.get("method")) for ln in landing["links"]}
    assert {("self", None), ("root", None), ("conformance", None), ("data", None)} <= rels
    assert {("search", "GET"), ("search", "POST")} <= rels
    assert "service-desc" not in {rel for rel, _ in rels}  # none is served
    assert http(url, "/conformance") == (200, {"conformsTo": landing["conformsTo"]})
    for name in ("CORE", "ITEM_SEARCH", "FILTER", "SORT", "COLLECTIONS", "FEATURES"):
        assert client.conforms_to(name), name


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"bbox": [14.0, 37.0, 16.0, 38.0]}, [ETNA]),
        ({"bbox": [-180.0, -10.0, 20.0, 40.0]}, [HAWAII, ETNA]),
        ({"datetime": "2018-01-20T00:00:00Z"}, [HAWAII, BALI]),  # Etna ends on the 17th
        ({"datetime": "2018-02-01T00:00:00Z/.."}, [BALI]),
        # bbox and an interval together: both hold (rustac alone OR-ed the datetime filter past the bbox)
        (
            {"bbox": [-180.0, -10.0, 20.0, 40.0], "datetime": "2018-01-18T00:00:00Z/2018-01-30T00:00:00Z"},
            [HAWAII],
        ),
        ({"filter": '"hephaestus:positive_pairs" >= 2'}, [HAWAII, BALI]),
        ({"filter": {"op": ">=", "args": [{"property": "hephaestus:positive_pairs"}, 2]}}, [HAWAII, BALI]),
        ({"filter": '"hephaestus:positive_pairs" >= 2', "datetime": "2018-02-01T00:00:00Z/.."}, [BALI]),
        ({"ids": [BALI, ETNA, "999A_00000_000000"]}, [ETNA, BALI]),
        ({"collections": [COLLECTION_ID]}, [HAWAII, ETNA, BALI]),
        ({"collections": ["another-collection"]}, []),
        ({"intersects": {"type": "Point", "coordinates": [115.51, -8.31]}}, [BALI]),
    ],
)
def test_search_finds_the_expected_items(
    client: Client, method: str, params: dict, expected: list[str]
) -> None:
    assert sorted(found(client, method=method, max_items=10, **params)) == sorted(expected)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sortby_and_limit(client: Client, method: str) -> None:
    assert found(client, method=method, sortby="-hephaestus:positive_pairs") == [BALI, HAWAII, ETNA]
    assert found(client, method=method, sortby="+hephaestus:positive_pairs") == [ETNA, HAWAII, BALI]
    assert found(client, method=method, sortby="-end_datetime", max_items=2) == [BALI, HAWAII]
    page = next(client.search(method=method, limit=1).pages_as_dicts())
    assert page["numberReturned"] == 1 and len(page["features"]) == 1  # one page: no paging beyond limit
    assert not [ln for ln in page["links"] if ln["rel"] == "next"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # one filter of each CQL2 conformance class the landing page claims beyond basic-cql2
        ("\"hephaestus:frame_id\" LIKE '002D%'", [ETNA]),  # advanced-comparison-operators
        ('"hephaestus:positive_pairs" BETWEEN 2 AND 3', [HAWAII, BALI]),
        ('"hephaestus:positive_pairs" IN (1, 3)', [ETNA, BALI]),
        (
            "CASEI(\"hephaestus:frame_id\") = CASEI('002d_00002_000002')",
            [ETNA],
        ),  # case-insensitive-comparison
        ("S_INTERSECTS(geometry, POINT(115.51 -8.31))", [BALI]),  # basic-spatial-functions
        ("S_INTERSECTS(geometry, BBOX(14, 37, 16, 38))", [ETNA]),
    ],
)
def test_claimed_cql2_classes_work(client: Client, url: str, text: str, expected: list[str]) -> None:
    _, landing = http(url, "/")
    assert "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators" in landing["conformsTo"]
    assert sorted(found(client, method="GET", filter=text, filter_lang="cql2-text")) == sorted(expected)


def test_collection_and_its_items(client: Client, url: str) -> None:
    collection = client.get_collection(COLLECTION_ID)
    assert collection is not None and collection.id == COLLECTION_ID
    assert collection.extent.spatial.bboxes[1] == [-155.6, 19.484, -155.58, 19.5]
    assert collection.get_single_link("items").href == f"{url}collections/{COLLECTION_ID}/items"
    assert sorted(item.id for item in collection.get_items()) == [HAWAII, ETNA, BALI]
    item = collection.get_item(ETNA)
    assert item is not None and item.id == ETNA
    assert item.get_self_href() == f"{url}collections/{COLLECTION_ID}/items/{ETNA}"
    status, collections = http(url, "/collections")
    assert status == 200 and [c["id"] for c in collections["collections"]] == [COLLECTION_ID]
    status, page = http(url, f"/collections/{COLLECTION_ID}/items?bbox=14,37,16,38")
    assert status == 200 and [f["id"] for f in page["features"]] == [ETNA]


def test_assets_point_into_the_store(client: Client, store: Path) -> None:
    item = next(client.search(ids=[ETNA]).items())
    assert Path(item.assets["zarr"].href) == store / "cubes" / f"{ETNA}.zarr"
    assert Path(item.assets["zarr"].href).is_dir()


def test_bad_filter_is_a_400_with_the_search_error(client: Client, url: str) -> None:
    search = client.search(method="GET", filter="positive_pairs >=== 1", filter_lang="cql2-text")
    with pytest.raises(APIError) as err:
        search.item_collection()
    assert err.value.status_code == 400
    status, body = http(url, "/search?filter=positive_pairs%20%3E%3D%3D%3D%201")
    assert status == 400 and body["code"] == "BadRequest"
    assert body["description"].startswith("bad cql2-text filter:") and "\n" not in body["description"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/search?limit=many", None, 400),
        ("/search?bbox=1,2", None, 400),
        ("/search?datetime=yesterday", None, 400),
        ("/search?query=%7B%7D", None, 400),  # the query extension is not supported: not ignored
        ("/search", {"filter": "{not json", "filter-lang": "cql2-json"}, 400),
        ("/search", {"fields": {"include": ["id"]}}, 400),
        ("/nowhere", None, 404),
        ("/collections/another-collection", None, 404),
        (f"/collections/{COLLECTION_ID}/items/999A_00000_000000", None, 404),
    ],
)
def test_errors(url: str, path: str, body: dict | None, status: int) -> None:
    got, doc = http(url, path, body)
    assert got == status and set(doc) == {"code", "description"} and doc["description"]


def test_a_store_without_a_catalog_is_refused_before_serving(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        make_server(str(tmp_path))


def test_cli_prints_the_url_and_stops_on_ctrl_c(store: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hephaestus.cli.app", "catalog", "serve", str(store), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.split()[3]
        assert url.startswith("http://127.0.0.1:"), line
        assert http(url, "/conformance")[0] == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
