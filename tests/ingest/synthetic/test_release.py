"""The simulated feed: a release in steps ends as the one-shot archive; the unrest scenario's pairs."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pytest

from hephaestus.ingest.synthetic import SynthConfig, generate
from hephaestus.ingest.synthetic.config import Unrest
from hephaestus.ingest.synthetic.generator import plan
from hephaestus.ingest.synthetic.release import ReleaseMismatchError, release, release_dates
from hephaestus.platform.annotation import iter_raw, parse_file

CFG = SynthConfig(frames=1, pairs=10, height=48, width=48, seed=3, positive_fraction=0.3)


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "release.json"
    }


def test_release_in_steps_equals_the_one_shot_archive(tmp_path: Path) -> None:
    generate(CFG, tmp_path / "once")
    dates = release_dates(CFG)
    middle = dates[len(dates) // 2]
    first = release(CFG, tmp_path / "feed", middle)
    # only pairs acquired up to the date, counted from the plan (not from what was written)
    expected_first = sorted(p.uid for _, p in plan(CFG).pairs if p.secondary <= middle)
    assert sorted(first.unique_ids) == expected_first and 0 < len(expected_first) < 10
    again = release(CFG, tmp_path / "feed", middle)
    assert again.pairs == 0 and again.paths == ()  # nothing repeated
    second = release(CFG, tmp_path / "feed", dates[-1])
    assert sorted(first.unique_ids + second.unique_ids) == list(range(1, 11))
    assert _digests(tmp_path / "feed") == _digests(tmp_path / "once")


def test_release_refuses_another_config_or_going_back(tmp_path: Path) -> None:
    dates = release_dates(CFG)
    release(CFG, tmp_path / "feed", dates[3])
    with pytest.raises(ReleaseMismatchError, match="another configuration"):
        release(CFG.model_copy(update={"seed": 4}), tmp_path / "feed", dates[5])
    with pytest.raises(ReleaseMismatchError, match="does not go back"):
        release(CFG, tmp_path / "feed", dates[1])


def test_unrest_shows_in_every_pair_after_its_start_and_grows_with_time(tmp_path: Path) -> None:
    """Pairs whose secondary date is after the start are labelled Mogi, the others not; a pair that
    spans more days of the inflation has at least as many fringes (constant rate, from the config)."""
    base = SynthConfig(frames=1, pairs=16, height=64, width=64, seed=1, positive_fraction=0.0)
    pairs = [p for _, p in plan(base).pairs]
    secondaries = sorted({p.secondary for p in pairs})
    start = secondaries[len(secondaries) // 2] - dt.timedelta(days=3)
    cfg = base.model_copy(update={"unrest": Unrest(start=start, fringes_per_30_days=10.0)})
    generate(cfg, tmp_path / "src")
    anns = {
        a.unique_id: a for raw in iter_raw(str(tmp_path / "src" / "annotations")) for a in parse_file(raw)
    }
    for p in pairs:
        a = anns[p.uid]
        days = (p.secondary - max(p.primary, start)).days
        shows = any(label != "Non_Deformation" for label in a.labels)
        assert shows == (days > 0), (p.uid, p.primary, p.secondary, a.labels)
        if days > 0:
            assert "Mogi" in a.record["activity_type"]
    assert np.any([(p.secondary - max(p.primary, start)).days > 0 for p in pairs])
