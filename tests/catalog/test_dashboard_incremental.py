"""A rebuilt site draws only the images whose inputs changed (the monitor rebuilds it after every cycle).

Expectations come from what the test changes by hand: nothing (no image drawn, every file as before),
one alert's polygon (that image alone), a cube appended to (nothing: appends never change a published
pair), a cube rebuilt (its frame's alert images), a damaged ledger (everything, no error).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dashboard_store import MonitoredStore, make_monitored_store, set_cube_version

from hephaestus.monitor.dashboard import build_dashboard
from hephaestus.monitor.dashboard.images import MANIFEST
from hephaestus.monitor.tables import ALERT_FIELDS
from hephaestus.platform.layout import StoreLayout


@pytest.fixture
def monitored(tmp_path: Path) -> MonitoredStore:
    """A monitored store of its own (the catalog names its cubes by absolute path) whose cubes carry
    version "v1", the version the alerts were scored from."""
    made = make_monitored_store(tmp_path / "made")
    for cube in (made.store / "cubes").iterdir():
        set_cube_version(cube, "v1", [])
    return made


def _files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def _pngs(site: Path) -> dict[str, bytes]:
    return {k: v for k, v in _files(site).items() if k.endswith(".png")}


def test_a_rebuild_with_nothing_new_draws_no_image_and_a_damaged_ledger_all(
    monitored: MonitoredStore, tmp_path: Path
) -> None:
    store, site = monitored.store, tmp_path / "site"
    first = build_dashboard(store, site)
    # one timeline per volcano and one image per alert, all drawn the first time
    every = first.volcanoes + len(monitored.alerts)
    assert (first.images, first.kept_images) == (every, 0)
    before = _files(Path(first.root))
    second = build_dashboard(store, site)
    assert (second.images, second.kept_images) == (0, every)
    assert _files(Path(second.root)) == before  # pages, captions included, as the first build wrote them
    (Path(second.root) / MANIFEST).write_text("{not json")  # a damaged ledger: a full redraw, not an error
    third = build_dashboard(store, site)
    assert (third.images, third.kept_images) == (every, 0)
    assert json.loads((Path(third.root) / MANIFEST).read_text())["images"]  # and written anew


def test_only_the_changed_alert_is_drawn_again(monitored: MonitoredStore, tmp_path: Path) -> None:
    store, site = monitored.store, tmp_path / "site"
    before = _pngs(Path(build_dashboard(store, site).root))
    moved = dict(monitored.alerts[0])
    box = json.loads(moved["polygon"])
    box["coordinates"][0] = [[x + 0.004, y] for x, y in box["coordinates"][0]]
    moved["polygon"] = json.dumps(box)
    rows = [moved, *monitored.alerts[1:]]
    pq.write_table(pa.Table.from_pylist(rows, schema=ALERT_FIELDS), StoreLayout(store).monitor.alerts)
    report = build_dashboard(store, site)
    assert report.images == 1 and report.kept_images == report.volcanoes + len(monitored.alerts) - 1
    after = _pngs(Path(report.root))
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {f"alerts/{moved['alert_id']}.png"}


def test_an_append_keeps_the_images_and_a_rebuild_redraws_its_frame(
    monitored: MonitoredStore, tmp_path: Path
) -> None:
    store, site = monitored.store, tmp_path / "site"
    build_dashboard(store, site)
    appended, rebuilt = monitored.frames[0], monitored.frames[1]
    set_cube_version(store / "cubes" / f"{appended}.zarr", "v2", ["v1"])
    assert build_dashboard(store, site).images == 0
    set_cube_version(store / "cubes" / f"{rebuilt}.zarr", "v9", [])
    report = build_dashboard(store, site)
    assert report.images == sum(a["frame_id"] == rebuilt for a in monitored.alerts) > 0
