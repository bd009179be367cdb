"""A warm watcher (`hmc monitor --every`, monitor/watch.py) keeps one Ray session and the loaded models
across cycles, loads the models again only when a checkpoint file changes, runs its after-cycle hook (the
dashboard) once a cycle, and a second cycle scores only the pairs released since the first."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
from monitor_feed import random_segmenter  # noqa: E402

from hephaestus.ingest.synthetic import SynthConfig  # noqa: E402
from hephaestus.ingest.synthetic.generator import plan  # noqa: E402
from hephaestus.ingest.synthetic.release import release, release_dates  # noqa: E402
from hephaestus.monitor import watch  # noqa: E402
from hephaestus.monitor.config import MonitorConfig  # noqa: E402
from hephaestus.platform.layout import StoreLayout  # noqa: E402
from hephaestus.platform.pairs import pair_uid  # noqa: E402

FEED = SynthConfig(frames=1, pairs=8, height=48, width=48, seed=5, positive_fraction=0.3)


def test_two_cycles_share_ray_and_models_and_score_only_new_pairs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    assert not ray.is_initialized()
    inits: list[dict] = []
    real_init = ray.init
    monkeypatch.setattr(ray, "init", lambda **kw: (inits.append(kw), real_init(**kw))[1])
    loads: list[tuple[str, ...]] = []
    real_load = watch.FrameModels.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls, checkpoints, *args, **kwargs):  # type: ignore[no-untyped-def]
        loads.append(tuple(checkpoints))
        return real_load(cls, checkpoints, *args, **kwargs)

    monkeypatch.setattr(watch.FrameModels, "load", classmethod(counting_load))

    ckpt = random_segmenter(tmp_path / "ckpt")
    dates = release_dates(FEED)
    middle = dates[len(dates) // 2 - 1]
    release(FEED, tmp_path / "feed", middle)
    cfg = MonitorConfig(
        sources=str(tmp_path / "feed"),
        store=str(tmp_path / "store"),
        checkpoints=(str(ckpt),),
        every=60,
        workers=2,
    )
    after: list[int] = []
    with watch.Watcher(cfg, after=lambda r: after.append(r.cycle)) as watcher:
        assert ray.is_initialized()
        node = ray.get_runtime_context().get_node_id()
        first = watcher.cycle()
        models = watcher.warm.models
        release(FEED, tmp_path / "feed", dates[-1])
        second = watcher.cycle()
        assert ray.is_initialized() and ray.get_runtime_context().get_node_id() == node
        assert len(inits) == 1  # the ingest of both cycles joined the watcher's session
        assert watcher.warm.models is models and len(loads) == watcher.warm.loads == 1
        assert set(watcher.last_steps) >= {"discover", "ingest", "catalog", "score", "dashboard"}

        best = ckpt / "best.pt"  # a retrained checkpoint: loaded again before the next cycle
        os.utime(best, ns=(best.stat().st_atime_ns, best.stat().st_mtime_ns + 10**10))
        third = watcher.cycle()
        assert len(loads) == watcher.warm.loads == 2 and watcher.warm.models is not models
    assert not ray.is_initialized()  # the watcher's session ends with it
    assert after == [first.cycle, second.cycle, third.cycle]

    pairs = [(f.fid, p) for f, p in plan(FEED).pairs if not p.missing]
    new = {pair_uid(fid, p.primary, p.secondary) for fid, p in pairs if p.secondary > middle}
    old = {pair_uid(fid, p.primary, p.secondary) for fid, p in pairs if p.secondary <= middle}
    assert new and old and first.scored == len(old)
    rows = pq.read_table(StoreLayout(str(tmp_path / "store")).monitor.scores).to_pylist()
    by_cycle = {c: {r["uid"] for r in rows if r["cycle"] == c} for c in (first.cycle, second.cycle)}
    assert by_cycle == {first.cycle: old, second.cycle: new}
    assert (second.new_products, second.scored) == (len(new), len(new))
    assert (third.ingested, third.scored) == (False, 0)


def test_monitor_every_updates_the_dashboard_after_each_cycle(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hephaestus.cli.app import app

    ckpt = random_segmenter(tmp_path / "ckpt")
    release(FEED, tmp_path / "feed", release_dates(FEED)[2])
    site = tmp_path / "site"
    result = CliRunner().invoke(
        app,
        ["monitor", str(tmp_path / "feed"), str(tmp_path / "store"), "--checkpoint", str(ckpt),
         "--every", "1s", "--cycles", "1", "--workers", "2", "--dashboard", str(site)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "cycle 1:" in result.output and "dashboard: 1 frames" in result.output
    assert (site / "index.html").is_file()
