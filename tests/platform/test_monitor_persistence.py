"""The persistence rule (monitor/persistence.py) on a hand-built per-pair table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hephaestus.monitor.persistence import persistent

D = dt.date
# frame A, acquisitions every 12 days from Jan 1; frame B one pair.
ROWS = [  # (frame, primary, secondary, over threshold)
    ("A", D(2020, 1, 1), D(2020, 1, 13), True),  # 0: alone in its time: an artefact
    ("A", D(2020, 1, 25), D(2020, 2, 6), True),  # 1: onset: shares Feb 6 with 2
    ("A", D(2020, 1, 13), D(2020, 2, 6), True),  # 2: spans Jan 25 (0 ends Jan 13: shares it too)
    ("A", D(2020, 2, 6), D(2020, 2, 18), True),  # 3: shares Feb 6 with 1 and 2
    ("A", D(2020, 3, 1), D(2020, 3, 13), False),  # 4: below the threshold
    ("B", D(2020, 1, 1), D(2020, 2, 6), True),  # 5: another frame never supports A
]


def _alerts(k: int) -> list[bool]:
    frames, primary, secondary, over = zip(*ROWS, strict=True)
    return persistent(frames, primary, secondary, over, over, k).tolist()


def test_k1_is_each_pair_alone() -> None:
    assert _alerts(1) == [True, True, True, True, False, True]


def test_k2_needs_an_overlapping_pair_known_by_then() -> None:
    # 0: nothing earlier or same-date overlaps; 1: 2 (same secondary); 2: 0 (shares Jan 13) and 1;
    # 3: 1 and 2 (share Feb 6); 5: alone in frame B.
    assert _alerts(2) == [False, True, True, True, False, False]


def test_k3_and_later_pairs_never_count() -> None:
    # 2: itself, 0, 1 -> 3; 1: itself, 2 (0 ends before Jan 25) -> 2; 3: itself, 1, 2 -> 3
    assert _alerts(3) == [False, False, True, True, False, False]


def test_a_candidate_below_the_threshold_or_failing_its_gates_never_alerts() -> None:
    frames, primary, secondary, over = zip(*ROWS, strict=True)
    candidates = np.array([True, False, True, True, True, True])  # 1 failed its area gate
    got = persistent(frames, primary, secondary, over, candidates, 2).tolist()
    assert got == [False, False, True, True, False, False]  # 1 still supports 2 and 3 (it scored over)
    with pytest.raises(ValueError):
        persistent(frames, primary, secondary, over, candidates, 0)
