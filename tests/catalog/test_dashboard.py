"""`hmc dashboard` without a browser: a self-contained site (every relative link resolves, to a folder or
a bucket), the figures draw what they claim (alert polygon red, annotated mask cyan), one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dashboard_store import MonitoredStore, make_monitored_store
from matplotlib.image import imread
from typer.testing import CliRunner

from hephaestus.cli.app import app
from hephaestus.monitor.dashboard import build_dashboard
from hephaestus.monitor.dashboard.figures import PREDICTED_COLOUR, TRUE_COLOUR
from hephaestus.monitor.tables import ALERT_FIELDS
from hephaestus.platform import storage
from hephaestus.platform.layout import StoreLayout

LINK = re.compile(r'(?:href|src)="([^"#]+)"')


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> MonitoredStore:
    return make_monitored_store(tmp_path_factory.mktemp("dash"))


@pytest.fixture(scope="module")
def local_site(monitored: MonitoredStore, shared_dir: Path) -> Path:
    """The files of the site's current version (SITE/v/<version>)."""
    out = monitored.store.parent / "site"
    report = build_dashboard(
        monitored.store, out, volcano_table=shared_dir / "data" / "volcanoes" / "gvp_holocene.csv"
    )
    return Path(report.root)


def _relative_targets(site: Path) -> set[str]:
    """Every file a page links to, as a path relative to the site root."""
    targets = set()
    for page in site.rglob("*.html"):
        for href in LINK.findall(page.read_text()):
            if href.startswith(("data:", "http://", "https://", "mailto:")):
                continue
            assert not href.startswith(("/", "file:")), f"{page}: absolute link {href}"
            targets.add((page.parent / href).resolve().relative_to(site.resolve()).as_posix())
    return targets


def test_every_link_of_the_site_resolves_inside_it(local_site: Path, monitored: MonitoredStore) -> None:
    files = {p.relative_to(local_site).as_posix() for p in local_site.rglob("*") if p.is_file()}
    assert _relative_targets(local_site) <= files
    # one page per alert, per item, and the vendored basemap with its licence
    assert {f"alerts/{a['alert_id']}.html" for a in monitored.alerts} <= files
    assert {f"stac/items/{f}.html" for f in monitored.frames} <= files
    assert {"index.html", "stac/index.html", "assets/natural-earth.png", "assets/LICENSES.txt"} <= files
    assert "public domain" in (local_site / "assets" / "LICENSES.txt").read_text()
    for page in local_site.rglob("*.html"):  # offline: nothing fetched from another host
        assert not re.search(r'(?:href|src)="https?://', page.read_text()), page


def test_geojson_downloads_hold_every_frame_and_alert(local_site: Path, monitored: MonitoredStore) -> None:
    frames = json.loads((local_site / "data" / "frames.geojson").read_text())
    assert sorted(f["id"] for f in frames["features"]) == sorted(monitored.frames)
    alerts = json.loads((local_site / "data" / "alerts.geojson").read_text())
    by_id = {f["id"]: f for f in alerts["features"]}
    assert set(by_id) == {a["alert_id"] for a in monitored.alerts}
    for a in monitored.alerts:
        assert by_id[a["alert_id"]]["geometry"] == json.loads(a["polygon"])
        assert by_id[a["alert_id"]]["properties"]["secondary_date"] == a["secondary_date"].isoformat()


def _pixels_of(png: Path, colour: str, tol: float = 0.08) -> int:
    rgb = imread(png)[..., :3]
    want = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int(np.count_nonzero(np.all(np.abs(rgb - want) < tol, axis=-1)))


def test_alert_image_draws_the_predicted_and_the_true_mask(
    local_site: Path, monitored: MonitoredStore
) -> None:
    true_alert = next(a for a in monitored.alerts if a["score"] > 0.9)  # annotated deformation
    false_alarm = next(a for a in monitored.alerts if a["score"] < 0.9)  # annotated: none
    png = local_site / "alerts" / f"{true_alert['alert_id']}.png"
    assert _pixels_of(png, PREDICTED_COLOUR) > 50 and _pixels_of(png, TRUE_COLOUR) > 50
    png = local_site / "alerts" / f"{false_alarm['alert_id']}.png"
    assert _pixels_of(png, PREDICTED_COLOUR) > 50 and _pixels_of(png, TRUE_COLOUR) < 5
    page = (local_site / "alerts" / f"{false_alarm['alert_id']}.html").read_text()
    assert "annotated as no deformation" in page


def test_site_to_a_bucket_equals_the_local_site(
    monitored: MonitoredStore, local_site: Path, s3_bucket: str, shared_dir: Path
) -> None:
    out = f"{s3_bucket}/sites/demo"
    report = build_dashboard(
        monitored.store, out, volcano_table=shared_dir / "data" / "volcanoes" / "gvp_holocene.csv"
    )
    assert report.index == f"{out}/index.html" and report.root == f"{out}/v/{report.version}"
    loc = storage.location(report.root)
    remote = {p[len(loc.path) + 1 :] for p in loc.fs.find(loc.path)}
    local = {p.relative_to(local_site).as_posix() for p in local_site.rglob("*") if p.is_file()}
    assert remote == local
    stac = storage.read_bytes(f"{report.root}/stac/index.html")
    assert stac == (local_site / "stac" / "index.html").read_bytes()
    assert f"v/{report.version}/index.html" in storage.read_bytes(report.index).decode()


def test_cli_writes_the_site_and_prints_its_index(monitored: MonitoredStore, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["dashboard", str(monitored.store), "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == str(tmp_path / "s" / "index.html")
    assert "3 frames" in res.output and f"{len(monitored.alerts)} alerts" in res.output


def test_cli_refuses_a_store_without_catalog_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(app, ["dashboard", str(tmp_path / "empty"), "--out", str(tmp_path / "s")])
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1 and str(tmp_path / "empty") in res.output


def test_cli_refuses_a_missing_volcano_table(monitored: MonitoredStore, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "dashboard",
            str(monitored.store),
            "--out",
            str(tmp_path / "s"),
            "--volcanoes",
            str(tmp_path / "no.csv"),
        ],
    )
    assert res.exit_code == 2 and "no.csv" in res.output


def test_an_alert_the_catalog_does_not_list_gets_a_page_without_image(
    monitored: MonitoredStore, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(monitored.store, store)
    extra = dict(monitored.alerts[0], primary_date=dt.date(2019, 3, 1), secondary_date=dt.date(2019, 3, 13))
    extra["uid"] = extra["alert_id"] = f"{extra['frame_id']}_20190301_20190313"
    extra["polygon"] = None
    path = StoreLayout(store).monitor.alerts
    pq.write_table(pa.Table.from_pylist([*monitored.alerts, extra], schema=ALERT_FIELDS), path)
    report = build_dashboard(store, tmp_path / "site")
    assert report.skipped_images == [extra["alert_id"]] and report.alerts == len(monitored.alerts) + 1
    page = (Path(report.root) / "alerts" / f"{extra['alert_id']}.html").read_text()
    assert "lists no cube for this pair" in page and 'id="pair-secondary">2019-03-13<' in page
    assert not (Path(report.root) / "alerts" / f"{extra['alert_id']}.png").exists()
