"""Grid expansion and run ids; the Tables 3/4 summary against hand-computed mean and std."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hephaestus.platform.config import ConfigError
from hephaestus.train.config import RunConfig, paper_grid, smoke_grid
from hephaestus.train.summary import aggregate, comparison_figure, paper_table, to_markdown


def test_paper_grid_is_96_runs_with_unique_ids() -> None:
    runs = paper_grid().runs()
    assert len(runs) == 8 * 2 * 2 * 3
    assert len({r.run_id for r in runs}) == 96
    assert all(
        r.epochs == 90 and r.lr == 1e-5 and r.weight_decay == 1e-2 and r.crop_size == 512 for r in runs
    )
    assert (
        RunConfig(model="resnet50", series=False, atmosphere=True, seed=0).run_id == "resnet50-single-atm-s0"
    )
    losses = {r.model: r.loss_name for r in runs}
    assert (
        losses["resnet50"] == "ce"
        and losses["vit_small_patch16_224"] == "focal"
        and losses["unet"] == "focal"
    )


def test_smoke_grid_covers_both_tasks_setups_and_channel_sets() -> None:
    runs = smoke_grid().runs()
    assert {r.task for r in runs} == {"classification", "segmentation"}
    assert {(r.series, r.atmosphere) for r in runs} == {(s, a) for s in (False, True) for a in (True, False)}


def test_bad_config_names_the_field() -> None:
    with pytest.raises(ConfigError, match="workers"):
        RunConfig.build(workers=(3, 2))
    with pytest.raises(ConfigError, match="unknown_key"):
        RunConfig.build(unknown_key=1)


def _rows() -> pd.DataFrame:
    rows = []
    for seed, (f1, auroc) in enumerate([(0.6, 0.9), (0.8, 0.7)]):
        rows.append(
            {
                "run_id": f"resnet50-single-atm-s{seed}",
                "model": "resnet50",
                "task": "classification",
                "setup": "single",
                "atmosphere": True,
                "seed": seed,
                "test_precision": 0.5,
                "test_recall": 0.5,
                "test_f1": f1,
                "test_auroc": auroc,
            }
        )
    rows.append(
        {
            "run_id": "unet-series-noatm-s0",
            "model": "unet",
            "task": "segmentation",
            "setup": "series",
            "atmosphere": False,
            "seed": 0,
            "test_precision": 0.4,
            "test_recall": 0.2,
            "test_f1": 0.3,
            "test_iou": 0.25,
        }
    )
    return pd.DataFrame(rows)


def test_tables_are_mean_and_sample_std_over_seeds_in_percent() -> None:
    results = _rows()
    agg = aggregate(results, "classification")
    assert len(agg) == 1 and int(agg["seeds"].iloc[0]) == 2
    assert agg["f1_mean"].iloc[0] == pytest.approx(70.0)
    assert agg["f1_std"].iloc[0] == pytest.approx(100 * math.sqrt(((0.6 - 0.7) ** 2 + (0.8 - 0.7) ** 2) / 1))
    table = paper_table(agg, "classification")
    assert list(table.columns) == ["Setup", "Model", "Atm.", "Seeds", "Prec", "Rec", "F1", "AUROC"]
    assert table["F1"].iloc[0] == "70.00 ± 14.14"
    assert table["Setup"].iloc[0] == "Single-Timestep" and table["Atm."].iloc[0] == "✓"
    seg = paper_table(aggregate(results, "segmentation"), "segmentation")
    assert seg["IoU"].iloc[0] == "25.00 ± –"  # one seed: no spread
    assert "| Time-Series | unet | ✗ |" in to_markdown(seg, "Table 4")


def test_comparison_figure_has_a_bar_per_model_and_configuration() -> None:
    fig = comparison_figure(_rows())
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * 4  # two models x four configurations
    assert [t.get_text() for t in ax.get_xticklabels()] == ["resnet50", "unet"]
