"""Fixtures of the catalog tests: the real annotations catalogued once, small hand-made annotation sets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from browser import SAVED, require_chromium, start_chrome
from catalog_records import write_annotations
from dashboard_store import MonitoredStore, make_monitored_store

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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> tuple[MonitoredStore, Path]:
    """The dashboard of a hand-made monitored store (dashboard_store.py), built once per test module."""
    from typer.testing import CliRunner

    from hephaestus.cli.app import app

    root = tmp_path_factory.mktemp("dashboard")
    monitored = make_monitored_store(root)
    gvp = shared_dir / "data" / "volcanoes" / "gvp_holocene.csv"
    res = CliRunner().invoke(
        app, ["dashboard", str(monitored.store), "--out", str(root / "site"), "--volcanoes", str(gvp)]
    )
    assert res.exit_code == 0, res.output
    return monitored, root / "site"


@pytest.fixture(scope="module")
def chrome():  # type: ignore[no-untyped-def]
    """A headless Chromium for the module's browser tests."""
    require_chromium()
    driver = start_chrome()
    yield driver
    driver.quit()
