"""`hmc demo`'s replay story: the twin of real frames, trained on the early years, replayed cycle by cycle."""

from __future__ import annotations

import datetime as dt
import json
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hephaestus.cli.app import app
from hephaestus.cli.demo import DemoConfig
from hephaestus.cli.demo_replay import cycle_dates, history_steps


def test_cycles_end_each_quarter_and_the_last_on_the_replay_end() -> None:
    cfg = DemoConfig(replay_from=dt.date(2020, 1, 1), replay_until=dt.date(2021, 12, 31), cycle_months=3)
    quarters = [(2020, 3, 31), (2020, 6, 30), (2020, 9, 30), (2020, 12, 31)]
    quarters += [(2021, 3, 31), (2021, 6, 30), (2021, 9, 30), (2021, 12, 31)]
    assert cycle_dates(cfg) == [dt.date(*q) for q in quarters]
    short = DemoConfig(replay_from=dt.date(2020, 1, 1), replay_until=dt.date(2020, 5, 15), cycle_months=3)
    assert cycle_dates(short) == [dt.date(2020, 3, 31), dt.date(2020, 5, 15)]
    # the feed ends before the replay does (the twin's last pair): no empty cycles after it
    assert cycle_dates(cfg, dt.date(2021, 3, 22)) == [dt.date(*q) for q in quarters[:4]] + [
        dt.date(2021, 3, 22)
    ]


def test_history_is_released_up_to_the_day_before_the_replay(tmp_path: Path) -> None:
    cfg = DemoConfig(replay_from=dt.date(2020, 1, 1))
    steps = history_steps(tmp_path, cfg)
    assert [s.argv[0] for s in steps] == ["synth", "ingest", "catalog", "benchmark"]
    synth = steps[0].argv
    assert synth[synth.index("--until") + 1] == "2019-12-31"
    assert synth[synth.index("--frames") + 1] == ",".join(cfg.twin_frames)
    assert steps[-1].argv[steps[-1].argv.index("--grid") + 1] == "replay"


def _real_onsets(annotations: Path, frame: str, max_days: int, since: dt.date) -> list[str]:
    """Onsets of the frame's annotated episodes read straight from the annotation JSON: acquisitions
    (secondary dates) of pairs of at most `max_days`, deformed when any pair's label is not
    Non_Deformation; an onset is a deformed acquisition after one that is not, on or after `since`."""
    shows: dict[dt.date, bool] = {}
    with tarfile.open(annotations) as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            rec = json.load(tar.extractfile(member))
            if rec["frameID"] != frame:
                continue
            primary = dt.datetime.strptime(rec["primary_date"], "%Y%m%d").date()
            secondary = dt.datetime.strptime(rec["secondary_date"], "%Y%m%d").date()
            if (secondary - primary).days > max_days:
                continue
            deformed = any(label != "Non_Deformation" for label in rec["label"])
            shows[secondary] = shows.get(secondary, False) or deformed
    days = sorted(shows)
    return [
        d.isoformat()
        for k, d in enumerate(days)
        if k > 0 and shows[d] and not shows[days[k - 1]] and d >= since
    ]


@pytest.mark.slow
def test_replay_demo_finds_the_real_episodes_and_ends_with_the_board(
    tmp_path: Path, shared_dir: Path
) -> None:
    """A year of Piton de la Fournaise (frame 144A_SM_REUN_S6) replayed in two cycles: the replay table
    lists exactly the episodes the real annotations hold, and the status board is written."""
    frame, since = "144A_SM_REUN_S6", dt.date(2020, 1, 1)
    config = tmp_path / "replay.yaml"
    config.write_text(
        f"twin_frames: [{frame}]\nreplay_from: '{since}'\nreplay_until: '2020-12-31'\ncycle_months: 6\n"
    )
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", str(out), "--config", str(config)])
    assert res.exit_code == 0, res.output
    assert res.output.count("[replay ") == 2
    table = json.loads((out / "replay.json").read_text())
    expected = _real_onsets(shared_dir / "data" / "hephaestus" / "annotations.tar.gz", frame, 24, since)
    assert expected, "the real annotations hold an episode of 2020"
    assert [e["first_annotated"] for e in table["episodes"]] == expected
    assert all(e["volcano"] == "Piton de la Fournaise" for e in table["episodes"])
    assert table["pairs"] > 0 and table["false_alerts_per_volcano_year"] is not None
    assert (out / "site" / "index.html").exists()
