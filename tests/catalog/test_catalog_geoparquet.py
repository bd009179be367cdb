"""The catalog's `items.parquet` is stac-geoparquet that GeoParquet clients read as they are.

A catalog is built from two hand-written cubes at known places (Kilauea, Etna); each client reads the file
with its own API and must give back the Items: ids, footprints (the cube grids' extents, computed here from
the factory's grid parameters) and a `hephaestus:*` property (pairs counted by hand from the factory's dates).
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
from pathlib import Path

import duckdb
import geopandas
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rustac
import rustac_duckdb_extensions

from hephaestus.catalog import CatalogConfig, build_catalog, resolve
from hephaestus.platform import storage
from hephaestus.platform.layout import StoreLayout

from factories import write_published_cube

KILAUEA, ETNA = "124D_04854_171313", "044A_04954_131313"
STEP = 0.001  # the factory's grid spacing (degrees)
# (lat_max, lon_min, height, width, n_primary, n_secondary, positive_every) of each cube
CUBES = {
    KILAUEA: (19.5, -155.6, 64, 80, 3, 4, 3),
    ETNA: (37.8, 14.9, 40, 50, 2, 3, 1),
}
# Pairs: primaries every 12 days from day 0, secondaries every 6 days from day 6; a pair needs
# secondary > primary. Kilauea: 4 + 2 + 0 = 6 pairs, every 3rd positive (k = 0, 3) -> 2.
# Etna: 3 + 1 = 4 pairs, all positive.
POSITIVE = {KILAUEA: 2, ETNA: 4}
PAIRS = {KILAUEA: 6, ETNA: 4}


def _bbox(frame: str) -> tuple[float, float, float, float]:
    lat_max, lon_min, height, width, *_ = CUBES[frame]
    return (lon_min, lat_max - height * STEP, lon_min + width * STEP, lat_max)


def _inside(frame: str) -> tuple[float, float]:
    """A point well inside a frame's footprint (lon, lat)."""
    w, s, e, n = _bbox(frame)
    return ((w + e) / 2, (s + n) / 2)


def _write_cubes(folder: Path) -> None:
    folder.mkdir(parents=True)
    for frame, (lat_max, lon_min, height, width, n_p, n_s, every) in CUBES.items():
        write_published_cube(
            folder / f"{frame}.zarr",
            zarr_format=3,
            frame_id=frame,
            lat_max=lat_max,
            lon_min=lon_min,
            height=height,
            width=width,
            n_primary=n_p,
            n_secondary=n_s,
            positive_every=every,
        )


@pytest.fixture(scope="module")
def items_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("geoparquet-store")
    _write_cubes(store / "cubes")
    build_catalog(store, CatalogConfig(statistics=False))
    base, coll = resolve(store)
    assert coll["assets"]["items"]["href"].endswith("items.parquet")
    return Path(base) / "items.parquet"


def _check_geo_metadata(metadata: dict[bytes, bytes]) -> None:
    geo = json.loads(metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB"
    assert column["crs"]["id"] == {"authority": "EPSG", "code": 4326}  # PROJJSON of WGS 84
    assert column["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]  # GeoParquet 1.1 bbox covering
    assert geo["version"].startswith("1.")
    assert json.loads(metadata[b"stac-geoparquet"])["version"] == "1.0.0"


def test_file_carries_geoparquet_metadata(items_parquet: Path) -> None:
    _check_geo_metadata(pq.read_metadata(items_parquet).metadata)
    assert pq.read_schema(items_parquet).field("geometry").type in (pa.binary(), pa.large_binary())


def test_rustac_reads_the_items(items_parquet: Path) -> None:

    async def read() -> dict:
        return await rustac.read(str(items_parquet))

    features = {f["id"]: f for f in asyncio.run(read())["features"]}
    assert sorted(features) == sorted(CUBES)
    for frame, feature in features.items():
        assert feature["bbox"] == pytest.approx(_bbox(frame))
        w, s, e, n = _bbox(frame)
        ring = feature["geometry"]["coordinates"][0]
        assert feature["geometry"]["type"] == "Polygon"
        assert {(round(x, 6), round(y, 6)) for x, y in ring} == {
            (round(x, 6), round(y, 6)) for x, y in [(w, s), (e, s), (e, n), (w, n)]
        }
        assert feature["properties"]["hephaestus:positive_pairs"] == POSITIVE[frame]


def test_rustac_duckdb_client_searches_the_items(items_parquet: Path) -> None:
    """rustac's DuckDB client (its own DuckDB, spatial extension from the `rustac-duckdb-extensions` wheel:
    nothing downloaded): an `intersects` search (DuckDB spatial's ST_Intersects) and a CQL2 property filter."""
    client = rustac.DuckdbClient(
        extension_directory=rustac_duckdb_extensions.extension_directory(), install_extensions=False
    )
    lon, lat = _inside(ETNA)
    found = client.search(str(items_parquet), intersects={"type": "Point", "coordinates": [lon, lat]})
    assert [f["id"] for f in found] == [ETNA]
    found = client.search(str(items_parquet), filter="hephaestus:positive_pairs >= 3")
    assert [f["id"] for f in found] == [ETNA]
    assert found[0]["properties"]["hephaestus:pairs"] == PAIRS[ETNA]


def test_geopandas_reads_the_items(items_parquet: Path) -> None:

    frame = geopandas.read_parquet(items_parquet)
    assert frame.crs.to_epsg() == 4326
    assert sorted(frame["id"]) == sorted(CUBES)
    by_id = frame.set_index("id")
    for fid in CUBES:
        assert by_id.geometry[fid].bounds == pytest.approx(_bbox(fid))
        assert by_id.loc[fid, "hephaestus:pairs"] == PAIRS[fid]
    lon, lat = _inside(KILAUEA)
    hits = frame[frame.intersects(geopandas.points_from_xy([lon], [lat], crs=4326)[0])]
    assert hits["id"].tolist() == [KILAUEA]


def _spatial_extension() -> Path | None:
    """The spatial extension built for this DuckDB, from the `duckdb-extension-spatial` wheel (or None)."""
    spec = importlib.util.find_spec("duckdb_extension_spatial")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / "spatial.duckdb_extension"
    return path if path.is_file() else None


@pytest.mark.skipif(
    _spatial_extension() is None,
    reason=f"no duckdb-extension-spatial wheel for DuckDB {duckdb.__version__} (the newest, 1.5.5, is built "
    "for DuckDB 1.5.5 only and pins duckdb==1.5.5); DuckDB loads an extension only for its exact version",
)
def test_duckdb_spatial_finds_the_item(items_parquet: Path) -> None:
    con = duckdb.connect()
    con.execute(f"LOAD '{_spatial_extension()}'")
    lon, lat = _inside(KILAUEA)
    rows = con.execute(
        'SELECT id, "hephaestus:positive_pairs" FROM read_parquet(?) '
        "WHERE ST_Intersects(geometry, ST_GeomFromText(?))",
        [str(items_parquet), f"POINT ({lon} {lat})"],
    ).fetchall()
    assert rows == [(KILAUEA, POSITIVE[KILAUEA])]


def test_duckdb_reads_a_geometry_column(items_parquet: Path) -> None:
    """DuckDB's core (no extension) types the column GEOMETRY from the `geo` metadata, not BLOB."""
    con = duckdb.connect()
    described = con.execute("DESCRIBE SELECT id, geometry FROM read_parquet(?)", [str(items_parquet)])
    types = {row[0]: row[1] for row in described.fetchall()}
    assert types["geometry"].startswith("GEOMETRY")
    lon, lat = _inside(ETNA)
    rows = con.execute(
        "SELECT id FROM read_parquet(?) WHERE ST_Intersects_Extent(geometry, ST_GeomFromGeoJSON(?))",
        [str(items_parquet), json.dumps({"type": "Point", "coordinates": [lon, lat]})],
    ).fetchall()
    assert rows == [(ETNA,)]


def test_items_parquet_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    """Built on an object store: the same GeoParquet file, one object and nothing left beside it."""
    _write_cubes(tmp_path / "cubes")
    store = f"{s3_bucket}/store"
    remote = storage.location(f"{store}/cubes")
    remote.fs.put(str(tmp_path / "cubes"), remote.path, recursive=True)
    report = build_catalog(store, CatalogConfig(statistics=False))
    files = StoreLayout(store).catalog_version(report.version)
    data = storage.read_bytes(files.geoparquet)
    _check_geo_metadata(pq.read_metadata(io.BytesIO(data)).metadata)
    frame = geopandas.read_parquet(io.BytesIO(data))
    assert sorted(frame["id"]) == sorted(CUBES)
    loc = storage.location(files.url)
    loc.fs.invalidate_cache()
    names = {p.rstrip("/").rsplit("/", 1)[-1] for p in loc.fs.ls(loc.path, detail=False)}
    assert not {n for n in names if n.endswith(".tmp") or n.startswith(".")}
