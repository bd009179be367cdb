"""Which scored pairs may alert (issue 24, item 1): hand-made catalog rows and checkpoint records.

The rules (monitor/baseline.py): unusable pairs never alert; a checkpoint's train and validation pairs
(of its split scheme, acquired by the end of its training data) never alert; pairs acquired before the start
date (`since`, by default the day after the training data) never alert.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from hephaestus.monitor.baseline import Baseline, CheckpointTraining, checkpoint_training
from hephaestus.train.loop import latest_secondary_date
from hephaestus.train.predict import PredictError

D = dt.date


def _pair(
    secondary: dt.date, split: str | None, volcano_split: str | None = None, usable: bool = True
) -> dict:
    return {
        "frame_id": "F",
        "primary_date": secondary - dt.timedelta(days=12),
        "secondary_date": secondary,
        "split": split,
        "volcano_split": volcano_split,
        "usable": usable,
    }


PAPER = CheckpointTraining("paper", recorded=True, split_scheme="paper", trained_until=D(2019, 12, 31))
VOLCANO = CheckpointTraining("volcano", recorded=True, split_scheme="volcano", trained_until=D(2019, 12, 31))
OLD = CheckpointTraining("old", recorded=True, split_scheme="paper")  # trained before trained_until existed
HANDMADE = CheckpointTraining("handmade", recorded=False)


def test_default_start_is_the_day_after_the_training_data() -> None:
    base = Baseline.resolve(None, [PAPER])
    assert (base.since, base.since_source) == (D(2020, 1, 1), "checkpoint")
    assert base.blocked(_pair(D(2019, 12, 31), split=None)) == "before_since"
    assert base.blocked(_pair(D(2020, 1, 1), split=None)) is None
    # two checkpoints: after both
    later = CheckpointTraining("seg", recorded=True, trained_until=D(2020, 3, 1))
    assert Baseline.resolve(None, [PAPER, later]).since == D(2020, 3, 2)


def test_a_configured_start_wins_and_training_pairs_still_never_alert() -> None:
    base = Baseline.resolve(D(2018, 1, 1), [PAPER])
    assert (base.since, base.since_source) == (D(2018, 1, 1), "config")
    assert base.blocked(_pair(D(2019, 6, 1), split="train")) == "training_pair"
    assert base.blocked(_pair(D(2019, 10, 1), split="val")) == "training_pair"
    assert base.blocked(_pair(D(2019, 6, 1), split="test")) is None
    assert base.blocked(_pair(D(2017, 6, 1), split="test")) == "before_since"


def test_unusable_comes_first() -> None:
    base = Baseline.resolve(None, [PAPER])
    assert base.blocked(_pair(D(2019, 6, 1), split="train", usable=False)) == "unusable"
    assert base.blocked(_pair(D(2021, 6, 1), split=None, usable=False)) == "unusable"


def test_the_checkpoints_own_split_scheme_decides() -> None:
    base = Baseline.resolve(D(2000, 1, 1), [VOLCANO])
    # a test-volcano pair in the paper's train window may alert; a train-volcano pair may not
    assert base.blocked(_pair(D(2018, 6, 1), split="train", volcano_split="test")) is None
    assert base.blocked(_pair(D(2018, 6, 1), split="test", volcano_split="train")) == "training_pair"
    # a training volcano's pairs acquired after the training data are new: they may alert
    assert base.blocked(_pair(D(2020, 2, 1), split="test", volcano_split="train")) is None


def test_a_checkpoint_without_trained_until_falls_back_to_its_splits() -> None:
    base = Baseline.resolve(None, [OLD])
    assert (base.since, base.since_source) == (None, "none")
    assert base.blocked(_pair(D(2019, 6, 1), split="train")) == "training_pair"
    assert base.blocked(_pair(D(2019, 10, 1), split="val")) == "training_pair"
    assert base.blocked(_pair(D(2020, 6, 1), split="test")) is None


def test_a_checkpoint_with_no_training_record_blocks_nothing() -> None:
    base = Baseline.resolve(None, [HANDMADE])
    assert (base.since, base.since_source) == (None, "none")
    assert base.blocked(_pair(D(2018, 6, 1), split="train")) is None


def _checkpoint(folder: Path, info: dict, state: bool, scheme: str = "volcano") -> Path:
    folder.mkdir()
    (folder / "run_config.json").write_text(json.dumps({"split_scheme": scheme}))
    (folder / "input.json").write_text(json.dumps(info))
    if state:
        (folder / "state.json").write_text("{}")
    return folder


def test_the_checkpoint_record_is_read(tmp_path: Path) -> None:
    got = checkpoint_training(str(_checkpoint(tmp_path / "a", {"trained_until": "2019-08-09"}, state=True)))
    assert (got.recorded, got.split_scheme, got.trained_until) == (True, "volcano", D(2019, 8, 9))
    got = checkpoint_training(str(_checkpoint(tmp_path / "b", {}, state=False, scheme="paper")))
    assert (got.recorded, got.split_scheme, got.trained_until) == (False, "paper", None)
    with pytest.raises(PredictError, match="trained_until"):
        checkpoint_training(str(_checkpoint(tmp_path / "c", {"trained_until": "August"}, state=True)))


class _Rows:
    def __init__(self, rows: pa.Table) -> None:
        self.rows = rows


def test_trained_until_is_the_latest_secondary_date_of_train_and_val() -> None:
    train = _Rows(pa.table({"secondary_date": [D(2018, 1, 1), D(2019, 5, 1)]}))
    val = _Rows(pa.table({"secondary_date": [D(2019, 8, 9), D(2019, 7, 1)]}))
    assert latest_secondary_date(train, val) == D(2019, 8, 9)
    series = _Rows(pa.table({"secondary_dates": [[D(2019, 1, 1), D(2019, 9, 1)], [D(2018, 1, 1)]]}))
    assert latest_secondary_date(train, series) == D(2019, 9, 1)
    assert latest_secondary_date(object(), _Rows(pa.table({"x": [1]}))) is None
