"""The from-scratch recipe and the trivial baseline printed beside every score (issue 23, item 6)."""

from __future__ import annotations

import pandas as pd
import pytest

from hephaestus.train.config import RunConfig, paper_grid
from hephaestus.train.metrics import trivial_baseline
from hephaestus.train.summary import TRIVIAL_MODEL, aggregate, paper_table


def test_random_weights_get_the_from_scratch_rate_unless_told() -> None:
    assert RunConfig(weights="random").learning_rate == 2e-3
    assert RunConfig(weights="imagenet").learning_rate == 1e-5  # the paper's fine-tuning rate
    assert RunConfig(weights="random", lr=1e-4).learning_rate == 1e-4  # a given rate always wins
    assert RunConfig(weights="random", recipe="paper").learning_rate == 1e-5
    recorded = RunConfig(weights="random").recorded()
    assert recorded["lr"] == 2e-3 and recorded["recipe"] == "from-scratch"
    assert RunConfig(**recorded).learning_rate == 2e-3  # a record reads back as the same run


def test_paper_grid_keeps_the_papers_rate_for_its_scratch_model() -> None:
    runs = paper_grid().runs()
    scratch = [r for r in runs if r.weights == "random"]
    assert scratch and all(r.learning_rate == 1e-5 for r in runs)


def test_trivial_baseline_by_hand() -> None:
    # p = 0.25: precision 0.25, recall 1, F1 = 2 * 0.25 / 1.25 = 0.4, a constant score ranks nothing
    assert trivial_baseline("classification", 0.25) == pytest.approx(
        {"precision": 0.25, "recall": 1.0, "f1": 0.4, "auroc": 0.5}
    )
    assert trivial_baseline("segmentation", 0.1)["iou"] == pytest.approx(0.1)


def test_tables_print_the_trivial_row_under_each_setup() -> None:
    rows = [
        {
            "run_id": f"m-{s}",
            "model": "mobilenetv3_large_100",
            "task": "classification",
            "setup": "single",
            "atmosphere": True,
            "seed": s,
            "weights": "random",
            "test_precision": 0.9,
            "test_recall": 0.8,
            "test_f1": 0.85,
            "test_auroc": 0.95,
            "test_prevalence": p,
        }
        for s, p in ((0, 0.2), (1, 0.3))
    ]
    table = paper_table(aggregate(pd.DataFrame(rows), "classification"), "classification")
    assert list(table["Model"]) == ["MobileNetV3", TRIVIAL_MODEL]
    trivial = table.iloc[1]
    # mean prevalence 0.25 -> F1 40.00 %, AUROC 50.00 %
    assert trivial["F1"] == "40.00" and trivial["AUROC"] == "50.00" and trivial["Prec"] == "25.00"


def test_whole_frame_columns_sit_beside_the_papers() -> None:
    rows = [
        {
            "run_id": f"m-{s}",
            "model": "mobilenetv3_large_100",
            "task": "classification",
            "setup": "single",
            "atmosphere": True,
            "seed": s,
            "weights": "random",
            "test_precision": 0.9,
            "test_recall": 0.8,
            "test_f1": 0.85,
            "test_auroc": 0.95,
            "frame_test_frame_auroc": auroc,
            "frame_test_f1": 0.5,
            "frame_test_false_alerts_per_volcano_year": fa,
        }
        for s, auroc, fa in ((0, 0.7, 2.0), (1, 0.9, 4.0))
    ]
    table = paper_table(aggregate(pd.DataFrame(rows), "classification"), "classification")
    assert table.iloc[0]["AUROC"].startswith("95.00")  # the paper's crop metric unchanged
    assert table.iloc[0]["Frame AUROC"].startswith("80.00")  # mean of 0.7 and 0.9, in %
    assert table.iloc[0]["False alerts/volcano-yr"].startswith("3.00")  # a rate, not a percentage
