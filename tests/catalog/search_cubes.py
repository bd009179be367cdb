"""The three known cubes that the STAC search tests (test_catalog_search.py, test_catalog_serve.py) catalog.

The cubes (tests/factories.py grids of 20 x 16 pixels at 0.001 degree, pairs every 6 days from 2018-01-05):

    frame               footprint (lon, lat)                     start .. end              positive pairs
    001A_00001_000001   -155.60..-155.58, 19.484..19.500 (Hawaii)  2018-01-05 .. 2018-01-29  2
    002D_00002_000002     15.00..15.02,   37.784..37.800 (Etna)    2018-01-05 .. 2018-01-17  1
    003A_00003_000003    115.50..115.52,  -8.316..-8.300 (Bali)    2018-01-05 .. 2018-02-10  3
"""

from __future__ import annotations

from pathlib import Path

from hephaestus.catalog import CatalogConfig, build_catalog

from factories import write_published_cube

HAWAII, ETNA, BALI = "001A_00001_000001", "002D_00002_000002", "003A_00003_000003"
# frame, top-left (lat, lon), primary dates, secondary dates, every k-th pair positive
CUBES = [(HAWAII, 19.5, -155.6, 3, 4, 3), (ETNA, 37.8, 15.0, 2, 2, 100), (BALI, -8.3, 115.5, 4, 4, 2)]
COLLECTION_ID = "hephaestus-minicubes"


def write_cubes(root: Path) -> None:
    """The three cubes of the table, published under `root`."""
    for frame, lat, lon, n_primary, n_secondary, every in CUBES:
        write_published_cube(
            root / f"{frame}.zarr",
            frame_id=frame,
            height=16,
            width=20,
            lat_max=lat,
            lon_min=lon,
            n_primary=n_primary,
            n_secondary=n_secondary,
            positive_every=every,
        )


def build_search_store(root: Path) -> Path:
    """A store at `root` with the three cubes and a published catalog (with its stac-geoparquet mirror)."""
    write_cubes(root / "cubes")
    build_catalog(root, CatalogConfig(statistics=False))
    return root
