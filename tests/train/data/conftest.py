"""Fixtures for loader tests: factory cubes in both layouts and their hand-built index rows."""

from __future__ import annotations

import warnings

import pytest
from loader_rows import make_cube, pair_rows

warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")

LAYOUTS = ("published", "platform")


@pytest.fixture(scope="session")
def cubes(tmp_path_factory):  # type: ignore[no-untyped-def]
    """{layout: (xarray dataset as written, cube url)} for the default 64 x 80 factory cube."""
    root = tmp_path_factory.mktemp("loader_cubes")
    return {layout: make_cube(root, layout, tile=32) for layout in LAYOUTS}


@pytest.fixture(scope="session")
def rows(cubes):  # type: ignore[no-untyped-def]
    """{layout: pair rows table}."""
    return {layout: pair_rows(ds, url) for layout, (ds, url) in cubes.items()}
