"""Fixtures of the catalog tests: the real annotations catalogued once, small hand-made annotation sets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from browser import SAVED
from catalog_records import write_annotations

from hephaestus.catalog import CatalogConfig, catalog_from_annotations


@pytest.fixture()
def annotations_dir(tmp_path: Path) -> Callable[[list[dict]], Path]:
    def make(records: list[dict], name: str = "annotations") -> Path:
        return write_annotations(tmp_path / name, records)

    return make


@pytest.fixture(scope="session")
def real_data(shared_dir: Path) -> Path:
    return shared_dir / "data" / "hephaestus"


@pytest.fixture(scope="session")
def real_catalog(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real 19,919 annotations catalogued once (from the tarball, read by member name)."""
    store = tmp_path_factory.mktemp("real-store")
    catalog_from_annotations(
        real_data / "annotations.tar.gz",
        store,
        available=real_data / "quality_timeseries.json",
        config=CatalogConfig(statistics=False, strict=True, series_length=3),
    )
    return store


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the dashboard's screenshots (test artifacts) at the end of the run."""
    if SAVED:
        terminalreporter.write_sep("-", "dashboard screenshots (tests/artifacts/dashboard)")
        for path in dict.fromkeys(SAVED):
            terminalreporter.write_line(str(path))
