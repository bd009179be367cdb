"""Grid expansion and run ids; the Tables 3/4 summary against hand-computed mean and std."""

from __future__ import annotations

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
        r.epochs == 90 and r.learning_rate == 1e-5 and r.weight_decay == 1e-2 and r.crop_size == 512
        for r in runs
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


def _row(
    model: str, task: str, setup: str, atm: bool, seed: int, weights: str = "imagenet:/w/x.pth", **m
) -> dict:  # type: ignore[no-untyped-def]
    row = {
        "run_id": f"{model}-{setup}-{'atm' if atm else 'noatm'}-s{seed}",
        "model": model,
        "task": task,
        "setup": setup,
        "atmosphere": atm,
        "seed": seed,
        "weights": weights,
    }
    return row | {f"test_{k}": v for k, v in m.items()}


def _rows() -> pd.DataFrame:
    rows = [
        _row("resnet50", "classification", "single", True, s, precision=0.5, recall=0.5, f1=f1, auroc=0.9)
        for s, f1 in enumerate([0.70, 0.75, 0.80])
    ]
    rows.append(_row("unet", "segmentation", "series", False, 0, precision=0.4, recall=0.2, f1=0.3, iou=0.25))
    return pd.DataFrame(rows)


def test_tables_are_mean_and_sample_std_over_seeds_in_percent() -> None:
    results = _rows()
    agg = aggregate(results, "classification")
    assert len(agg) == 1 and int(agg["seeds"].iloc[0]) == 3
    # By hand: mean 75; sample std sqrt((5^2 + 0^2 + 5^2) / (3 - 1)) = 5 (population would be 4.08).
    assert agg["f1_mean"].iloc[0] == pytest.approx(75.0)
    assert agg["f1_std"].iloc[0] == pytest.approx(5.0)
    table = paper_table(agg, "classification")
    assert list(table.columns) == ["Setup", "Model", "Atm.", "Weights", "Seeds", "Prec", "Rec", "F1", "AUROC"]
    assert table["F1"].iloc[0] == "75.00 ± 5.00"
    assert table["AUROC"].iloc[0] == "90.00 ± 0.00"
    assert table["Setup"].iloc[0] == "Single-Timestep" and table["Atm."].iloc[0] == "✓"
    assert table["Model"].iloc[0] == "ResNet-50" and table["Weights"].iloc[0] == "ImageNet"
    seg = paper_table(aggregate(results, "segmentation"), "segmentation")
    assert seg["IoU"].iloc[0] == "25.00 ± –"  # one seed: no spread
    text = to_markdown(seg, "Table 4")
    assert "| Time-Series | UNet | ✗ | ImageNet |" in text
    assert "sample standard deviation" in text


def test_runs_from_different_weights_are_never_averaged_together() -> None:
    rows = [_row("resnet50", "classification", "single", True, 0, f1=0.8, precision=1, recall=1, auroc=1)]
    rows.append(_row("resnet50", "classification", "single", True, 1, f1=0.8, precision=1, recall=1, auroc=1))
    rows.append(
        _row(
            "resnet50", "classification", "single", True, 0, "random", f1=0.2, precision=1, recall=1, auroc=1
        )
    )
    agg = aggregate(pd.DataFrame(rows), "classification")
    assert sorted(zip(agg["weights"], agg["seeds"], agg["f1_mean"], strict=True)) == [
        ("imagenet", 2, pytest.approx(80.0)),
        ("random", 1, pytest.approx(20.0)),
    ]
    assert list(paper_table(agg, "classification")["Weights"]) == ["ImageNet", "random"]
    # And their run ids differ, so a re-run with other weights does not skip them as done.
    assert RunConfig(weights="random").run_id != RunConfig(weights="imagenet").run_id


def test_paper_row_order_names_and_best_bold_second_underlined() -> None:
    f1s = {
        ("unet", False): 0.70,
        ("segformer", True): 0.60,
        ("deeplabv3", False): 0.50,
        ("deeplabv3", True): 0.60,
    }
    rows = [
        _row(m, "segmentation", "single", atm, s, precision=0.5, recall=0.5, f1=f1, iou=0.4)
        for (m, atm), f1 in f1s.items()
        for s in (0, 1)
    ]
    rows.append(_row("unet", "segmentation", "series", True, 0, precision=0.5, recall=0.5, f1=0.1, iou=0.4))
    agg = aggregate(pd.DataFrame(rows), "segmentation")
    table = paper_table(agg, "segmentation", markdown=True)
    # Table 4's order: single before series, DeepLabv3, UNet, SegFormer, without atmosphere first.
    assert list(zip(table["Setup"], table["Model"], table["Atm."], strict=True)) == [
        ("Single-Timestep", "DeepLabv3", "✗"),
        ("Single-Timestep", "DeepLabv3", "✓"),
        ("Single-Timestep", "UNet", "✗"),
        ("Single-Timestep", "SegFormer", "✓"),
        ("Time-Series", "UNet", "✓"),
    ]
    # Best F1 in the single block 70 (bold), second 60 twice (underlined), 50 plain; each block on its own.
    assert list(table["F1"]) == [
        "50.00 ± 0.00",
        "<u>60.00</u> ± 0.00",
        "**70.00** ± 0.00",
        "<u>60.00</u> ± 0.00",
        "**10.00** ± –",
    ]
    assert list(paper_table(agg, "segmentation")["F1"])[2] == "70.00 ± 0.00"  # plain for the console


def test_comparison_figure_has_a_bar_per_model_and_configuration() -> None:
    fig = comparison_figure(_rows())
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * 4  # two models x four configurations
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ResNet-50", "UNet"]
    rows = _rows()
    rows.loc[0, "weights"] = "random"  # one seed from scratch: its own bar, not pooled with ImageNet
    labels = [t.get_text() for t in comparison_figure(rows).axes[0].get_xticklabels()]
    assert labels == ["ResNet-50 (random)", "ResNet-50", "UNet"]
