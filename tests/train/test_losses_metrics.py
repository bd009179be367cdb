"""Focal loss and cross-entropy against hand-computed values; metrics against hand counts."""

from __future__ import annotations

import math

import pytest
import torch

from hephaestus.train.losses import make_loss
from hephaestus.train.metrics import deformation_metrics, deformation_probability


def test_focal_loss_matches_hand_computation() -> None:
    # Sample 1: logits (0, 0) -> p(deformation) = 1/2, target 1: alpha 0.25, (1 - 1/2)^2, -ln(1/2).
    # Sample 2: logits (0, ln 3) -> p = 3/4, target 0: alpha 0.75, p_t = 1/4, (3/4)^2, -ln(1/4).
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])
    target = torch.tensor([1, 0])
    first = 0.25 * 0.5**2 * math.log(2.0)
    second = 0.75 * 0.75**2 * math.log(4.0)
    got = make_loss("focal", alpha=0.25, gamma=2.0)(logits, target)
    assert float(got) == pytest.approx((first + second) / 2, rel=1e-6)


def test_focal_with_gamma_zero_and_no_alpha_weighting_is_cross_entropy() -> None:
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.5], [-0.4, 0.9]])
    target = torch.tensor([1, 0, 1])
    focal = make_loss("focal", alpha=0.5, gamma=0.0)(logits, target)
    ce = make_loss("ce")(logits, target)
    assert float(focal) == pytest.approx(0.5 * float(ce), rel=1e-6)  # alpha 0.5 weighs both classes by 1/2


def test_cross_entropy_hand_value_and_per_pixel_shape() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)]])
    assert float(make_loss("ce")(logits, torch.tensor([1]))) == pytest.approx(-math.log(0.75), rel=1e-6)
    pixels = torch.zeros(2, 2, 4, 4)
    mask = torch.ones(2, 4, 4, dtype=torch.int64)
    assert float(make_loss("focal")(pixels, mask)) == pytest.approx(0.25 * 0.25 * math.log(2.0), rel=1e-6)


def test_classification_metrics_against_counts() -> None:
    metrics = deformation_metrics("classification")
    probs = torch.tensor([0.9, 0.2, 0.7, 0.4])
    target = torch.tensor([1, 0, 0, 1])
    metrics.update(probs, target)
    got = {k: float(v) for k, v in metrics.compute().items()}
    # Predicted positive: samples 0 and 2 -> TP 1, FP 1, FN 1.
    assert got["precision"] == pytest.approx(0.5)
    assert got["recall"] == pytest.approx(0.5)
    assert got["f1"] == pytest.approx(0.5)
    # Positive/negative score pairs ranked right: (0.9>0.2), (0.9>0.7), (0.4>0.2) of 4.
    assert got["auroc"] == pytest.approx(0.75)


def test_segmentation_iou_against_counts() -> None:
    metrics = deformation_metrics("segmentation")
    logits = torch.zeros(1, 2, 2, 2)
    logits[0, 1] = torch.tensor([[5.0, 5.0], [-5.0, -5.0]])  # predicts the top row
    mask = torch.tensor([[[1, 0], [1, 0]]])  # truth: the left column
    metrics.update(deformation_probability(logits), mask)
    got = {k: float(v) for k, v in metrics.compute().items()}
    assert got["iou"] == pytest.approx(1 / 3)  # TP 1, FP 1, FN 1
    assert got["precision"] == pytest.approx(0.5) and got["recall"] == pytest.approx(0.5)
