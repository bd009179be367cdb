"""The input specification: the authors' channel order, statistics choices, the no-data rule, the series rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hephaestus.platform import schema
from hephaestus.platform.dataspec import DataSpec
from hephaestus.platform.inputs import InputSpec, InputSpecError, pad_series, step_channels

from factories import AUTHORS_CHANNELS

AUTHORS_ORDER = AUTHORS_CHANNELS


def test_channels_in_the_authors_order() -> None:
    assert step_channels(True) == AUTHORS_ORDER
    assert step_channels(False) == AUTHORS_ORDER[:3]


def test_a_spec_with_another_channel_order_is_refused() -> None:
    spec = InputSpec.create(DataSpec(atmosphere=True, crop_size=64, statistics="authors"))
    stored = json.loads(json.dumps(spec.model_dump(mode="json")))
    assert InputSpec.from_record(stored) == spec  # round trip through the checkpoint's JSON
    old = [*AUTHORS_ORDER[:3], *sorted(AUTHORS_ORDER[3:])]  # the former primaries-then-secondaries order
    with pytest.raises(InputSpecError, match="channel order"):
        InputSpec.from_record({**stored, "channels": old})


def test_authors_statistics_are_their_file(shared_dir) -> None:
    stats = json.loads((shared_dir / "data" / "hephaestus" / "statistics.json").read_text())
    spec = InputSpec.create(DataSpec(series=True, series_length=3, crop_size=512, statistics="authors"))
    assert spec.statistics_source == "authors"
    for key, entry in stats.items():
        assert spec.statistics[key] == (entry["mean"], entry["std"])


def test_train_statistics_must_be_given() -> None:
    with pytest.raises(InputSpecError, match="train split"):
        InputSpec.create(DataSpec(atmosphere=False, crop_size=64, statistics="train"))
    with pytest.raises(InputSpecError, match="lack 'dem'"):
        InputSpec.create(
            DataSpec(atmosphere=False, crop_size=64, statistics="train"),
            train_statistics={"insar_difference": (0, 1), "insar_coherence": (0, 1)},
        )


def test_normalise_by_hand() -> None:
    stats = {"insar_difference": (1.0, 2.0), "insar_coherence": (100.0, 50.0), "dem": (10.0, 4.0)}
    spec = InputSpec.create(
        DataSpec(atmosphere=False, series=True, series_length=2, crop_size=16, statistics="train"),
        train_statistics=stats,
    )
    raw = np.array(
        [
            [[3.0, 0.0], [np.nan, -1.0]],  # phase t0: 0 is no data, NaN too
            [[150.0, 200.0], [-9999.0, 100.0]],  # coherence t0: -9999 is its _FillValue
            [[18.0, 2.0], [10.0, 14.0]],  # dem (read into step 0 only)
            [[5.0, 1.0], [np.inf, 0.0]],  # phase t1
            [[50.0, 0.0], [100.0, 125.0]],  # coherence t1
            [[0.0, 0.0], [0.0, 0.0]],  # dem t1: not read, filled from step 0
        ],
        dtype=np.float32,
    )
    spec.normalise(raw, {"insar_coherence": -9999.0})
    want = np.array(
        [
            [[1.0, 0.0], [0.0, -1.0]],
            [[1.0, 2.0], [0.0, 0.0]],
            [[2.0, -2.0], [0.0, 1.0]],
            [[2.0, 0.0], [0.0, 0.0]],
            [[-1.0, -2.0], [0.0, 0.5]],
            [[2.0, -2.0], [0.0, 1.0]],
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(raw, want)
    assert spec.in_channels == 6 and spec.channel_names[3] == "t1/insar_difference"


def test_series_rule_pads_by_repeating_the_last_pair() -> None:
    assert pad_series([7], 3) == [7, 7, 7]
    assert pad_series([7, 9], 3) == [7, 9, 9]
    assert pad_series([7, 9, 11], 3) == [7, 9, 11]
    with pytest.raises(InputSpecError, match="4 pairs, expected 1..3"):
        pad_series([1, 2, 3, 4], 3, "s1")
    with pytest.raises(InputSpecError):
        pad_series([], 3)


def test_statistics_keys_cover_every_channel() -> None:
    keys = {schema.statistics_key(c) for c in AUTHORS_ORDER}
    assert keys == set(schema.AUTHORS_STATISTICS)
