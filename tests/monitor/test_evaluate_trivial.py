"""`hmc evaluate` prints, beside every frame-level score, what alerting on every pair would score."""

from __future__ import annotations

import pytest

from hephaestus.monitor.evaluate import trivial_row


def test_trivial_monitor_by_hand() -> None:
    # 10 pairs, 4 with deformation, over 2 volcano-years: precision 0.4, recall 1,
    # F1 = 2 * 0.4 / 1.4, AUROC 0.5, and the 6 pairs without deformation are 3 false alerts a year
    got = trivial_row({"pairs": 10, "positives": 4, "volcano_years": 2.0})
    assert got == pytest.approx(
        {
            "precision": 0.4,
            "recall": 1.0,
            "f1": 0.8 / 1.4,
            "frame_auroc": 0.5,
            "false_alerts_per_volcano_year": 3.0,
        }
    )
    assert trivial_row({"pairs": 0, "positives": 0, "volcano_years": 0.0}) == {}
