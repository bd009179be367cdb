"""Metrics of the deformation class (torchmetrics; synced across DDP workers on compute)."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAUROC,
    BinaryF1Score,
    BinaryJaccardIndex,
    BinaryPrecision,
    BinaryRecall,
)

from hephaestus.train.config import Task

CLASSIFICATION_METRICS = ("precision", "recall", "f1", "auroc")
SEGMENTATION_METRICS = ("precision", "recall", "f1", "iou")


def metric_names(task: Task) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else SEGMENTATION_METRICS


def deformation_metrics(task: Task) -> MetricCollection:
    """Precision, recall, F1 and AUROC (classification) or IoU (segmentation) of the deformation class."""
    common = {
        "precision": BinaryPrecision(),
        "recall": BinaryRecall(),
        "f1": BinaryF1Score(),
    }
    if task == "classification":
        common["auroc"] = BinaryAUROC()
    else:
        common["iou"] = BinaryJaccardIndex()
    return MetricCollection(common)


def deformation_probability(logits: torch.Tensor) -> torch.Tensor:
    """Softmax probability of the deformation class: [B] for images, [B, H, W] for masks."""
    return torch.softmax(logits.float(), dim=1)[:, 1]


def compute(metrics: MetricCollection) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.compute().items()}
