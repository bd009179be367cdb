"""The monitor scores a store's history and alerts only on what is new (issue 24, items 1 to 3).

The feed (8 usable pairs of one frame at Nyiragongo) is released in two steps and watched with a random
segmenter at threshold 0 (every pair with a predicted region passes the score and area gates, as in
test_monitor_restart.py), so whether a pair alerts is decided by the baseline alone. The expectations come
from the feed's plan: its pairs' dates and the paper's split windows (train 2014-2019/05, val 2019/06-12,
test 2020-2021 by primary date), and a checkpoint trained on the train and validation pairs, which end on
TRAINED_UNTIL.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from monitor_feed import random_segmenter

from hephaestus.catalog import read_pairs
from hephaestus.ingest.synthetic import SynthConfig
from hephaestus.ingest.synthetic.generator import plan
from hephaestus.ingest.synthetic.release import release, release_dates
from hephaestus.monitor.config import MonitorConfig, Thresholds
from hephaestus.monitor.cycle import CycleReport, run_cycle
from hephaestus.monitor.tables import latest_cycle
from hephaestus.platform import schema, volcanoes
from hephaestus.platform.cube import open_cube
from hephaestus.platform.layout import StoreLayout
from hephaestus.platform.pairs import pair_uid

FEED = SynthConfig(frames=1, pairs=8, height=48, width=48, seed=2, positive_fraction=0.3)
EVERYTHING = Thresholds(score=0.0, min_area_km2=0.0)
PAIRS = [p for _, p in plan(FEED).pairs]
(FRAME,) = plan(FEED).frames
TRAINING = [p for p in PAIRS if schema.split_of(str(p.primary)) in ("train", "val")]
TRAINED_UNTIL = max(p.secondary for p in TRAINING)


def _uid(p) -> str:  # type: ignore[no-untyped-def]
    return pair_uid(FRAME.fid, p.primary, p.secondary)


def _checkpoint(segmenter: Path, folder: Path, trained_until: dt.date | None, loop: bool) -> Path:
    """The random segmenter as the training loop would have written it (`loop`: with state.json), with
    `trained_until` recorded or not."""
    shutil.copytree(segmenter, folder)
    info = json.loads((folder / "input.json").read_text())
    if trained_until is not None:
        info["trained_until"] = trained_until.isoformat()
    (folder / "input.json").write_text(json.dumps(info))
    if loop:
        (folder / "state.json").write_text(json.dumps({"epoch": 0, "done": True}))
    return folder


def _cfg(root: Path, store: Path, checkpoint: str, **kw) -> MonitorConfig:  # type: ignore[no-untyped-def]
    return MonitorConfig(
        sources=str(root / "feed"), store=str(store), checkpoints=(str(root / checkpoint),),
        thresholds=EVERYTHING, workers=2, **kw,
    )  # fmt: skip


def _rows(store: Path, name: str) -> list[dict]:
    return pq.read_table(getattr(StoreLayout(str(store)).monitor, name)).to_pylist()


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    from hephaestus.platform.ray_session import ray_session

    with ray_session(num_cpus=2):
        yield


@pytest.fixture(scope="module")
def watched(tmp_path_factory, ray_local) -> tuple[Path, CycleReport, CycleReport]:  # type: ignore[no-untyped-def]
    """A store never monitored before: the feed up to its middle, one cycle, the rest, another cycle."""
    root = tmp_path_factory.mktemp("monitor-baseline")
    random_segmenter(root / "seg")
    _checkpoint(root / "seg", root / "until", TRAINED_UNTIL, loop=True)
    dates = release_dates(FEED)
    middle = dates[len(dates) // 2 - 1]
    assert middle <= TRAINED_UNTIL < dates[-1]  # the first release is all history
    release(FEED, root / "feed", middle)
    first = run_cycle(_cfg(root, root / "store", "until"))
    release(FEED, root / "feed", dates[-1])
    second = run_cycle(_cfg(root, root / "store", "until"))
    return root, first, second


def test_the_first_cycle_scores_the_history_and_alerts_on_none(watched) -> None:  # type: ignore[no-untyped-def]
    root, first, _ = watched
    history = [p for p in PAIRS if p.secondary <= release_dates(FEED)[len(release_dates(FEED)) // 2 - 1]]
    assert first.scored == first.new_products == len(history) > 0
    assert first.alerts == 0
    rows = [r for r in _rows(root / "store", "scores") if r["cycle"] == 1]
    assert sorted(r["uid"] for r in rows) == sorted(_uid(p) for p in history)
    assert {r["alert_blocked"] for r in rows} == {"training_pair"}  # all are train/val pairs
    assert not any(r["alert"] for r in rows)
    assert (
        "0 new alerts" in first.line()
        and f"alerts from {TRAINED_UNTIL + dt.timedelta(days=1)}" in first.line()
    )


def test_a_later_release_alerts_only_on_the_new_pairs_after_the_training_data(watched) -> None:  # type: ignore[no-untyped-def]
    root, first, second = watched
    new = [
        p
        for p in PAIRS
        if _uid(p) not in {r["uid"] for r in _rows(root / "store", "scores") if r["cycle"] == 1}
    ]
    after = sorted(_uid(p) for p in new if p.secondary > TRAINED_UNTIL)
    assert after and len(after) < len(new)  # some new pairs are still training pairs
    assert second.scored == second.new_products == len(new)
    assert second.alerts == len(after)
    alerts = _rows(root / "store", "alerts")
    assert sorted(a["alert_id"] for a in alerts) == after
    assert {a["cycle"] for a in alerts} == {2}
    blocked = {r["uid"]: r["alert_blocked"] for r in _rows(root / "store", "scores")}
    assert {u for u, why in blocked.items() if why is None} == set(after)
    assert second.blocked == {"training_pair": len(new) - len(after)}
    # the alerts of one volcano overlapping in time are one episode, opened in this cycle
    files = StoreLayout(str(root / "store")).monitor
    (episode,) = _rows(root / "store", "episodes")
    assert (episode["status"], episode["alerts"]) == ("opened", len(after))
    assert episode["volcano"] == "Nyiragongo" and episode["latest_uid"] == after[-1]
    features = json.loads(Path(files.episodes_geojson).read_text())["features"]
    assert [f["id"] for f in features] == [episode["episode_id"]]
    assert second.episodes == {"opened": 1} and latest_cycle(files)["cycle"] == 2


def test_a_cycle_with_nothing_new_leaves_the_episode_ongoing(watched, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, _, _ = watched
    store = tmp_path / "store"
    shutil.copytree(root / "store", store)
    again = run_cycle(_cfg(root, store, "until"))
    assert (again.ingested, again.new_products, again.scored, again.alerts) == (False, 0, 0, 0)
    (episode,) = _rows(store, "episodes")
    assert episode["status"] == "ongoing"
    files = StoreLayout(str(store)).monitor
    assert latest_cycle(files)["cycle"] == 3  # no alert is new since the last cycle
    assert not any(a["cycle"] == 3 for a in _rows(store, "alerts"))


def _frame_box(store: Path) -> volcanoes.Bbox:
    ds = open_cube(read_pairs(store).to_pylist()[0]["cube_url"])
    return volcanoes.footprint(ds[schema.LAT].values, ds[schema.LON].values)


def test_a_store_ingested_before_it_was_monitored(watched, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The demo's case: cubes and catalog there, no monitor tables. Nothing is a new product; a checkpoint
    trained before `trained_until` was recorded blocks its train and validation pairs whatever their date;
    the frame's only listed volcano lies 0.2 degrees north of it, so no row names it."""
    root, _, _ = watched
    _checkpoint(root / "seg", tmp_path / "old", None, loop=True)
    store = tmp_path / "store"
    shutil.copytree(root / "store", store, ignore=shutil.ignore_patterns("monitor", ".locks"))
    west, south, east, north = _frame_box(store)
    table = tmp_path / "gvp.csv"
    table.write_text(
        "volcano_number,volcano_name,latitude,longitude,elevation_m\n"
        f'7,"Outside, Mount",{north + 0.2},{(west + east) / 2},1000\n'
        "8,Far Away,60.0,0.0,100\n"
    )
    cfg = _cfg(root, store, "unused", volcanoes=str(table)).model_copy(
        update={"checkpoints": (str(tmp_path / "old"),)}
    )
    report = run_cycle(cfg)
    test_pairs = sorted(_uid(p) for p in PAIRS if p not in TRAINING)
    assert (report.ingested, report.new_products, report.scored) == (False, 0, len(PAIRS))
    assert report.alerts == len(test_pairs) and report.blocked == {"training_pair": len(TRAINING)}
    assert sorted(a["alert_id"] for a in _rows(store, "alerts")) == test_pairs
    note = f"nearest listed volcano Mount Outside is {0.2 * 111.19:.0f} km outside the frame"
    for row in _rows(store, "scores") + _rows(store, "alerts"):
        assert (row["volcano"], row["volcano_number"], row["volcano_note"]) == (None, None, note)


def test_since_and_names_as_people_write_them(watched, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`since` alone (a checkpoint with no training record): pairs acquired before it never alert; the
    volcano inside the frame is named as written, not as GVP files it."""
    root, _, _ = watched
    store = tmp_path / "store"
    shutil.copytree(root / "store", store, ignore=shutil.ignore_patterns("monitor", ".locks"))
    west, south, east, north = _frame_box(store)
    table = tmp_path / "gvp.csv"
    table.write_text(
        "volcano_number,volcano_name,latitude,longitude,elevation_m\n"
        f'9,"Inside, Cerro",{(south + north) / 2},{(west + east) / 2},1000\n'
    )
    since = sorted({p.secondary for p in PAIRS})[-2]
    report = run_cycle(_cfg(root, store, "seg", since=since, volcanoes=str(table)))
    later = sorted(_uid(p) for p in PAIRS if p.secondary >= since)
    assert report.scored == len(PAIRS) and report.blocked == {"before_since": len(PAIRS) - len(later)}
    assert sorted(a["alert_id"] for a in _rows(store, "alerts")) == later
    for row in _rows(store, "scores") + _rows(store, "alerts"):
        assert (row["volcano"], row["volcano_number"], row["volcano_note"]) == ("Cerro Inside", 9, None)
