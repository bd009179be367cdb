"""Focal loss (the authors' formula) and cross-entropy against hand-computed values; metrics against counts."""

from __future__ import annotations

import math

import pytest
import torch

from hephaestus.train.config import RunConfig
from hephaestus.train.losses import FocalLoss, make_loss
from hephaestus.train.metrics import deformation_metrics, deformation_probability


def test_focal_loss_is_the_authors_formula_by_hand() -> None:
    # The authors' FocalLoss(gamma=2, alpha=0.25): class weights [alpha, 1 - alpha] = [0.25, 0.75]
    # indexed by the target, loss = mean(w_t * (1 - p_t)^2 * -ln p_t) with p_t the softmax of the target.
    # Sample 1: logits (0, 0), target 1 (deformation): p_t = 1/2, w_t = 0.75.
    # Sample 2: logits (0, ln 3), target 0 (background): p_t = 1/4, w_t = 0.25.
    # Sample 3: logits (ln 3, 0), target 0: p_t = 3/4, w_t = 0.25.
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)], [math.log(3.0), 0.0]])
    target = torch.tensor([1, 0, 0])
    first = 0.75 * (1 - 0.5) ** 2 * -math.log(0.5)
    second = 0.25 * (1 - 0.25) ** 2 * -math.log(0.25)
    third = 0.25 * (1 - 0.75) ** 2 * -math.log(0.75)
    expected = (first + second + third) / 3
    assert float(make_loss("focal")(logits, target)) == pytest.approx(expected, rel=1e-6)
    assert float(FocalLoss()(logits, target)) == pytest.approx(expected, rel=1e-6)
    # The run default is the same weighting: deformation 1 - 0.25.
    assert RunConfig().focal_deformation_weight == pytest.approx(0.75)
    assert RunConfig().focal_gamma == 2.0


def test_focal_loss_weighs_deformation_three_times_background() -> None:
    # Same p_t = 3/4 for a deformation and a background sample: the loss ratio is 0.75 / 0.25 = 3
    # (torchvision's sigmoid_focal_loss(alpha=0.25) gives 1/3: the inverse weighting).
    deformation = make_loss("focal")(torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([1]))
    background = make_loss("focal")(torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([0]))
    assert float(deformation) == pytest.approx(0.75 * 0.25**2 * -math.log(0.75), rel=1e-6)
    assert float(deformation) / float(background) == pytest.approx(3.0, rel=1e-6)


def test_focal_loss_per_pixel_mean_by_hand() -> None:
    # One image, 1 x 2 pixels: logits (0, 0) on a deformation pixel and (0, 0) on a background pixel.
    logits = torch.zeros(1, 2, 1, 2)
    mask = torch.tensor([[[1, 0]]])
    expected = (0.75 * 0.5**2 * math.log(2.0) + 0.25 * 0.5**2 * math.log(2.0)) / 2
    assert float(make_loss("focal")(logits, mask)) == pytest.approx(expected, rel=1e-6)


def test_focal_with_gamma_zero_and_equal_weights_is_half_cross_entropy() -> None:
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.5], [-0.4, 0.9]])
    target = torch.tensor([1, 0, 1])
    focal = make_loss("focal", deformation_weight=0.5, gamma=0.0)(logits, target)
    ce = make_loss("ce")(logits, target)
    assert float(focal) == pytest.approx(0.5 * float(ce), rel=1e-6)  # both classes weighed by 1/2


def test_cross_entropy_hand_value() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)]])
    assert float(make_loss("ce")(logits, torch.tensor([1]))) == pytest.approx(-math.log(0.75), rel=1e-6)


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
