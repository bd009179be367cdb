"""`hmc benchmark --grid paper --dry-run`: the 96 planned runs checked against the paper's protocol."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hephaestus.cli.app import app

# Paper section 4 / appendix B: 5 classifiers + 3 segmenters, single/series, with/without atmosphere,
# 3 seeds; AdamW lr 1e-5, weight decay 1e-2, 90 epochs; CE for classifiers except ViT (focal), focal for
# segmentation. Tables 6/7 (M parameters, with-atmosphere inputs: single 9 channels, series 27).
PAPER_MODELS = {
    "resnet50": ("ResNet-50", "ce", 23.5, 23.6),
    "mobilenetv3_large_100": ("MobileNetV3", "ce", 4.2, 4.2),
    "tf_efficientnetv2_s": ("EfficientNetV2", "ce", 20.2, 20.2),
    "convnext_small": ("ConvNeXt", "ce", None, None),  # Table 6's 87.6 M is ConvNeXt-Base
    "vit_small_patch16_224": ("ViT", "focal", 22.3, 24.0),
    "deeplabv3": ("DeepLabv3", "focal", 26.7, 26.8),
    "unet": ("UNet", "focal", 32.5, 32.6),
    "segformer": ("SegFormer", "focal", 24.9, 24.9),
}
# 3 InSAR channels (phase, coherence, DEM), + 6 atmospheric ones, times 3 steps for a series.
CHANNELS = {(False, False): 3, (False, True): 9, (True, False): 9, (True, True): 27}


@pytest.fixture(scope="module")
def plan_lines(tmp_path_factory) -> list[dict]:  # type: ignore[no-untyped-def]
    store = tmp_path_factory.mktemp("dry") / "store"
    result = CliRunner().invoke(
        app, ["benchmark", str(store), "--grid", "paper", "--dry-run", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_paper_grid_plans_96_runs_with_the_papers_settings(plan_lines: list[dict]) -> None:
    assert len(plan_lines) == 8 * 2 * 2 * 3 == 96
    assert len({r["run_id"] for r in plan_lines}) == 96
    assert {r["model"] for r in plan_lines} == set(PAPER_MODELS)
    for r in plan_lines:
        name, loss, single_m, series_m = PAPER_MODELS[r["model"]]
        assert r["paper_name"] == name
        assert r["task"] == (
            "segmentation" if r["model"] in ("deeplabv3", "unet", "segformer") else "classification"
        )
        assert r["lr"] == 1e-5 and r["weight_decay"] == 1e-2 and r["epochs"] == 90
        assert r["seed"] in (0, 1, 2)
        assert r["in_channels"] == CHANNELS[(r["series"], r["atmosphere"])]
        assert r["loss"] == loss
        if loss == "focal":  # authors' FocalLoss(gamma=2, alpha=0.25): deformation weighs 1 - 0.25
            assert (r["focal_deformation_weight"], r["focal_gamma"]) == (0.75, 2.0)
        else:
            assert r["focal_deformation_weight"] is None and r["focal_gamma"] is None
        if r["atmosphere"] and single_m is not None:
            assert r["params"] / 1e6 == pytest.approx(series_m if r["series"] else single_m, rel=0.02)
        # ImageNet weights as the paper says; EfficientNetV2 from scratch as the authors' code.
        assert r["weights"] == ("random" if r["model"] == "tf_efficientnetv2_s" else "imagenet")
        for key in ("statistics", "crop_size", "augment", "batch_size", "atmosphere", "series"):
            assert key in r
    for model in PAPER_MODELS:
        assert sum(r["model"] == model for r in plan_lines) == 12


def test_plain_dry_run_prints_the_same_runs_as_a_table(plan_lines: list[dict], tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["benchmark", str(tmp_path), "--grid", "paper", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + 96
    assert lines[0].split()[:3] == ["run_id", "model", "paper_name"]
    assert [line.split()[0] for line in lines[1:]] == [r["run_id"] for r in plan_lines]


def test_convnext_base_is_offered_for_the_grid(tmp_path) -> None:  # type: ignore[no-untyped-def]
    args = ["benchmark", str(tmp_path), "--grid", "paper", "--dry-run", "--format", "json"]
    result = CliRunner().invoke(app, [*args, "--models", "convnext_base", "--weights", "random"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(rows) == 12 and {r["model"] for r in rows} == {"convnext_base"}
    assert {r["weights"] for r in rows} == {"random"} and all(r["run_id"].endswith("-random") for r in rows)
    # Table 6's 87.6 M (single, with atmosphere) is ConvNeXt-Base.
    single_atm = [r for r in rows if not r["series"] and r["atmosphere"]]
    assert single_atm[0]["params"] / 1e6 == pytest.approx(87.6, rel=0.02)
    bad = CliRunner().invoke(app, [*args, "--models", "convnext_huge"])
    assert bad.exit_code != 0 and "convnext_huge" in bad.output


def test_dry_run_marks_runs_already_done_under_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hephaestus.train.benchmark import plan
    from hephaestus.train.config import GridConfig

    grid = GridConfig(name="two", models=("unet",), series=(False,), atmosphere=(True,), seeds=(0, 1))
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "unet-single-atm-s1.json").write_text("{}")
    rows = plan(grid, str(tmp_path))
    assert [(r["run_id"], r["status"]) for r in rows] == [
        ("unet-single-atm-s0", "pending"),
        ("unet-single-atm-s1", "done"),
    ]
    without_out = CliRunner().invoke(app, ["benchmark", str(tmp_path), "--grid", "smoke"])
    assert without_out.exit_code != 0 and "--out" in without_out.output
