"""Metrics of the deformation class (torchmetrics; synced across DDP workers on compute)."""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection
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


class Prevalence(Metric):
    """Share of the deformation class among the targets (samples, or pixels for masks).

    Why: a score means little without what the trivial detector gets on the same split (`trivial_baseline`),
    and that depends only on how common deformation is there.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("positives", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.positives += (target != 0).sum().float()
        self.total += float(target.numel())

    def compute(self) -> torch.Tensor:
        return self.positives / self.total if self.total > 0 else torch.tensor(float("nan"))


def trivial_baseline(task: Task, prevalence: float) -> dict[str, float]:
    """The metrics of the trivial detector that calls everything deformation, on a split whose share of
    deformation (samples for classification, pixels for segmentation) is `prevalence`.

    Precision = prevalence, recall = 1, F1 = 2p / (1 + p); its constant score ranks nothing, so AUROC =
    0.5; for masks its IoU with the truth is p. (Calling nothing deformation scores 0 on every one of
    these.) A model is only worth its margin over this row.
    """
    p = float(prevalence)
    out = {"precision": p, "recall": 1.0, "f1": 2 * p / (1 + p) if p > 0 else 0.0}
    if task == "classification":
        out["auroc"] = 0.5
    else:
        out["iou"] = p
    return out


def metric_names(task: Task) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else SEGMENTATION_METRICS


def deformation_metrics(task: Task) -> MetricCollection:
    """Precision, recall, F1 and AUROC (classification) or IoU (segmentation) of the deformation class."""
    common = {
        "precision": BinaryPrecision(),
        "recall": BinaryRecall(),
        "f1": BinaryF1Score(),
        "prevalence": Prevalence(),
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
