"""`hmc monitor` over a released feed: each cycle scores only the new pairs, a re-run repeats nothing,
and a run killed (SIGKILL) at any point of a cycle is finished by the next without losing or repeating
a row: the tables equal those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from monitor_feed import random_segmenter, table_rows
from typer.testing import CliRunner

from hephaestus.cli.app import app
from hephaestus.ingest.synthetic import SynthConfig
from hephaestus.ingest.synthetic.generator import plan
from hephaestus.ingest.synthetic.release import release, release_dates
from hephaestus.monitor.config import MonitorConfig, Thresholds
from hephaestus.monitor.cycle import run_cycle
from hephaestus.monitor.journal import CRASH_ENV
from hephaestus.platform.cube import cube_version
from hephaestus.platform.layout import StoreLayout

FEED = SynthConfig(frames=1, pairs=8, height=48, width=48, seed=2, positive_fraction=0.3)
EVERYTHING = Thresholds(score=0.0, min_area_km2=0.0)  # every pair with a predicted region is an alert


def _cfg(root: Path, store: Path) -> MonitorConfig:
    return MonitorConfig(
        sources=str(root / "feed"),
        store=str(store),
        checkpoints=(str(root / "ckpt"),),
        thresholds=EVERYTHING,
        workers=2,
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """An uninterrupted watch: the feed released in two steps, one cycle after each, then one more."""
    root = tmp_path_factory.mktemp("monitor-ref")
    random_segmenter(root / "ckpt")
    dates = release_dates(FEED)
    middle = dates[len(dates) // 2 - 1]
    pairs = [p for _, p in plan(FEED).pairs if not p.missing]  # pairs with a product get a cube cell
    release(FEED, root / "feed", middle)
    first = run_cycle(_cfg(root, root / "store"))
    assert first.ingested and first.scored == sum(p.secondary <= middle for p in pairs) > 0
    release(FEED, root / "feed", dates[-1])
    second = run_cycle(_cfg(root, root / "store"))
    assert second.ingested and second.scored == sum(p.secondary > middle for p in pairs) > 0
    assert second.new_products == second.scored
    return root


def test_cycles_score_only_new_pairs_and_a_rerun_repeats_nothing(reference: Path) -> None:
    before = table_rows(reference / "store")
    uids = [r["uid"] for r in before["scores"]]
    assert len(uids) == len(set(uids)) == sum(not p.missing for _, p in plan(FEED).pairs)
    assert all(r["alert"] for r in before["scores"])  # threshold 0: every pair with a region alerts
    assert [a["alert_id"] for a in before["alerts"]] == [r["uid"] for r in before["scores"] if r["alert"]]
    again = run_cycle(_cfg(reference, reference / "store"))
    assert (again.ingested, again.scored, again.alerts) == (False, 0, 0)
    assert table_rows(reference / "store") == before
    files = StoreLayout(str(reference / "store")).monitor
    features = json.loads(Path(files.alerts_geojson).read_text())["features"]
    assert [f["id"] for f in features] == [a["alert_id"] for a in before["alerts"]]
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)
    a = before["alerts"][0]
    assert a["volcano"] and a["deformed_area_km2"] > 0 and a["intensity"] in ("Low", "Medium", "High")


def test_every_keeps_watching(reference: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["monitor", str(reference / "feed"), str(reference / "store"), "--checkpoint", str(reference / "ckpt"),
         "--every", "1s", "--cycles", "2", "--score-threshold", "0", "--min-area-km2", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count("no new products") == 2


def _killed_at(point: str, root: Path, store: Path) -> None:
    argv = [sys.executable, "-m", "hephaestus.cli.app", "monitor", str(root / "feed"), str(store),
            "--checkpoint", str(root / "ckpt"), "--score-threshold", "0", "--min-area-km2", "0", "--workers", "2"]  # fmt: skip
    proc = subprocess.run(
        argv, env={**os.environ, CRASH_ENV: point}, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stderr[-2000:])


def _resume_after_kills(points: list[str], reference: Path, store: Path) -> None:
    for point in points:
        _killed_at(point, reference, store)
    run_cycle(_cfg(reference, store))
    # The reference scored its first pairs from the cube before the append, these runs from the cube
    # after it: the version each row names differs, what the rows say does not.
    same = ("cube_version",)
    assert table_rows(store, same) == table_rows(reference / "store", same)
    assert not any((store / "monitor" / "state" / "results").glob("*.json"))
    final = {cube_version(c) for c in (store / "cubes").iterdir()}
    assert {r["cube_version"] for r in table_rows(store)["scores"]} == final != {None}


@pytest.mark.slow  # ~21 s; the default run keeps the restart-without-repeats case
def test_killed_while_scoring_and_folding_loses_and_repeats_nothing(reference: Path, tmp_path: Path) -> None:
    """Killed after two pairs were scored, then while writing the alerts table, then between the two
    tables: the next run finishes the cycle and the tables equal the uninterrupted run's."""
    store = tmp_path / "store"
    shutil.copytree(reference / "store", store, ignore=shutil.ignore_patterns("monitor", ".locks"))
    _resume_after_kills(["recorded:2", "alerts-written", "scores-written"], reference, store)


@pytest.mark.slow
def test_killed_at_every_phase_from_an_empty_store(reference: Path, tmp_path: Path) -> None:
    """From nothing: killed after ingest, after the catalog update, mid-scoring, mid-fold, before the
    GeoJSON and before the results are cleared."""
    points = ["ingested", "catalogued", "recorded:3", "alerts-written", "scores-written", "geojson-written"]
    _resume_after_kills(points, reference, tmp_path / "store")
