"""The status board's inputs without a browser: episodes computed when the monitor wrote none, "new since
the last cycle" from the alerts' `cycle` and the journal's latest cycle, every scored pair paged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dashboard_store import EARLIER, MonitoredStore, current_root, make_monitored_store

from hephaestus.monitor.dashboard import build_dashboard
from hephaestus.monitor.dashboard.data import load
from hephaestus.monitor.tables import ALERT_FIELDS
from hephaestus.platform.layout import StoreLayout


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> MonitoredStore:
    return make_monitored_store(tmp_path_factory.mktemp("status"))


def _copy(monitored: MonitoredStore, tmp_path: Path) -> Path:
    store = tmp_path / "store"
    shutil.copytree(monitored.store, store)
    return store


def test_new_alerts_are_those_of_the_latest_cycle(monitored: MonitoredStore, tmp_path: Path) -> None:
    # by detection time (no cycle numbers): the latest scores' time stamp starts the latest cycle
    assert load(monitored.store).new_alerts == {
        a["alert_id"] for a in monitored.alerts if a["volcano"] == "Kilauea"
    }
    # by cycle number: Etna's alerts raised by cycle 5, the journal's latest; the others by cycle 4
    store = _copy(monitored, tmp_path)
    files = StoreLayout(store).monitor
    rows = [dict(a, cycle=5 if a["volcano"] == "Etna" else 4) for a in monitored.alerts]
    pq.write_table(pa.Table.from_pylist(rows, schema=ALERT_FIELDS), files.alerts)
    Path(files.state).mkdir(parents=True, exist_ok=True)
    cycle = {"cycle": 5, "phase": "done", "started_at": EARLIER.isoformat()}
    (Path(files.state) / "cycle.json").write_text(json.dumps(cycle))
    site = load(store)
    assert site.new_alerts == {a["alert_id"] for a in monitored.alerts if a["volcano"] == "Etna"}
    assert site.latest_cycle == EARLIER


def test_episodes_are_computed_when_the_monitor_wrote_none(monitored: MonitoredStore, tmp_path: Path) -> None:
    store = _copy(monitored, tmp_path)
    (Path(StoreLayout(store).monitor.url) / "episodes.parquet").unlink()
    report = build_dashboard(store, tmp_path / "site")
    # every volcano with alerts has at least one episode, and every alert lies in one of them
    assert report.episodes >= len({a["volcano"] for a in monitored.alerts})
    features = json.loads((Path(report.root) / "data" / "episodes.geojson").read_text())["features"]
    assert sum(f["properties"]["alerts"] for f in features) == len(monitored.alerts)
    index = (Path(report.root) / "index.html").read_text()
    assert index.count('class="episode-row') == report.episodes


def test_every_scored_pair_has_a_page_and_an_image(monitored: MonitoredStore, tmp_path: Path) -> None:
    report = build_dashboard(monitored.store, tmp_path / "site")
    site = Path(report.root)
    for s in monitored.scores:
        page = (site / "pairs" / f"{s['uid']}.html").read_text()
        assert f'id="pair-uid">{s["uid"]}<' in page
        assert (site / "pairs" / f"{s['uid']}.png").stat().st_size > 0
        assert ("GeoTIFF" in page) == s["alert"]
    assert report.pair_images == len(monitored.scores)
    assert report.geotiffs == len(monitored.alerts)


def test_pair_images_of_the_latest_cycles_only_when_asked(monitored: MonitoredStore, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hephaestus.cli.app import app

    site = tmp_path / "site"
    args = ["dashboard", str(monitored.store), "--out", str(site), "--pair-image-cycles", "1"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    # the latest cycle scored Kilauea's pairs; alerted pairs always get their image
    drawn = {s["uid"] for s in monitored.scores if s["volcano"] == "Kilauea" or s["alert"]}
    site = current_root(site)
    assert {p.stem for p in (site / "pairs").glob("*.png")} == drawn != {s["uid"] for s in monitored.scores}
    for s in monitored.scores:
        page = (site / "pairs" / f"{s['uid']}.html").read_text()
        assert ("--pair-image-cycles" in page) == (s["uid"] not in drawn)
