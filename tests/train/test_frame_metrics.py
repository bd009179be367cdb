"""Frame-level metrics (train/frame_metrics.py) against values worked out by hand on small tables."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from hephaestus.train.frame_metrics import (
    alert_counts,
    calibrate_threshold,
    episode_onsets,
    false_alerts_per_volcano_year,
    frame_auroc,
    onset_delay,
    precision_recall_f1,
    volcano_years,
)

D = dt.date


def test_auroc_counts_pairs_ranked_right_and_ties_half() -> None:
    # positives 0.9, 0.4; negatives 0.4, 0.1: pairs (0.9>0.4) (0.9>0.1) (0.4=0.4 half) (0.4>0.1) -> 3.5/4
    assert frame_auroc([0.9, 0.4, 0.4, 0.1], [True, True, False, False]) == pytest.approx(0.875)
    assert frame_auroc([0.1, 0.9], [True, False]) == 0.0
    assert math.isnan(frame_auroc([0.3, 0.2], [True, True]))


def test_precision_recall_f1_at_a_threshold() -> None:
    scores = [0.9, 0.8, 0.6, 0.3, 0.2]
    labels = [True, False, True, True, False]
    p, r, f1 = precision_recall_f1(scores, labels, 0.5)  # alerts: 0.9 (T), 0.8 (F), 0.6 (T)
    assert (p, r) == pytest.approx((2 / 3, 2 / 3))
    assert f1 == pytest.approx(2 / 3)
    p, r, f1 = precision_recall_f1(scores, labels, 0.95)  # no alert: precision undefined, recall 0
    assert math.isnan(p) and r == 0 and f1 == 0


def test_false_alerts_per_volcano_year_uses_each_frames_span() -> None:
    frames = ["A", "A", "B"]
    primary = [D(2020, 1, 1), D(2020, 6, 1), D(2021, 1, 1)]
    secondary = [D(2020, 7, 1), D(2021, 1, 1), D(2021, 7, 2)]  # A spans 366 days, B 182
    assert volcano_years(frames, primary, secondary) == pytest.approx(548 / 365.25)
    alerts = [True, True, True]
    labels = [False, True, False]  # two false alerts
    got = false_alerts_per_volcano_year(alerts, labels, frames, primary, secondary)
    assert got == pytest.approx(2 / (548 / 365.25))
    assert alert_counts(alerts, labels).false_alerts == 2


# Two frames of pairs (one pair per acquisition):
# frame A: acquisitions d1..d5 (secondary dates); deformation from d3 on; first alert at d4 -> delay 1.
# frame B: starts deformed (no known onset), then quiet, then deformed at d4 and never alerted -> missed.
DAYS = [D(2020, 1, k) for k in range(1, 7)]
TWO_FRAMES = {
    "frame_ids": ["A"] * 5 + ["B"] * 4,
    "secondary_dates": [DAYS[1], DAYS[2], DAYS[3], DAYS[4], DAYS[5], DAYS[1], DAYS[2], DAYS[3], DAYS[4]],
    "labels": [False, False, True, True, True, True, False, True, True],
    "alerts": [True, False, False, True, True, True, False, False, False],
}


def test_onset_delay_counts_acquisitions_to_the_first_alert() -> None:
    got = onset_delay(**TWO_FRAMES)
    assert (got.episodes, got.delays, got.missed) == (2, (1,), 1)
    assert got.record() == {"episodes": 2, "median": 1.0, "max": 1, "missed": 1}


def test_episode_onsets_name_each_episode_its_span_and_first_alert() -> None:
    got = episode_onsets(**TWO_FRAMES)
    d = DAYS
    assert [(o.frame_id, o.first, o.last, o.alerted, o.delay) for o in got] == [
        ("A", d[3], d[5], d[4], 1),
        ("B", d[3], d[4], None, None),
    ]


def test_onset_on_the_first_acquisition_alerted_is_zero_delay() -> None:
    got = onset_delay([False, True], [False, True], ["A", "A"], [D(2020, 1, 1), D(2020, 1, 13)])
    assert got.delays == (0,)


def test_calibrate_threshold_allows_the_stated_rate_of_false_alerts() -> None:
    # one frame over exactly 2 years (730.5 days): at 1 false alert per volcano-year, 2 are allowed.
    frames = ["A"] * 6
    primary = [D(2020, 1, 1)] * 6
    secondary = [D(2020, 1, 13)] * 5 + [D(2022, 1, 1)]
    scores = [0.95, 0.9, 0.8, 0.7, 0.6, 0.99]
    labels = [False, False, False, True, False, True]
    years = volcano_years(frames, primary, secondary)
    cal = calibrate_threshold(
        scores, labels, frames, secondary, primary_dates=primary, false_alerts_per_volcano_year=2.01 / years
    )
    # negatives descending 0.95, 0.9, 0.8, 0.6: two allowed -> just above the third (0.8)
    assert 0.8 < cal.threshold < 0.8 + 1e-9
    assert cal.negatives == 4 and cal.pairs == 6
    assert cal.achieved_rate == pytest.approx(2 / years)
    none_allowed = calibrate_threshold(
        scores, labels, frames, secondary, primary_dates=primary, false_alerts_per_volcano_year=0.0
    )
    assert 0.95 < none_allowed.threshold < 0.95 + 1e-9
    many = calibrate_threshold(
        scores, labels, frames, secondary, primary_dates=primary, false_alerts_per_volcano_year=100.0
    )
    assert many.threshold == 0.0
