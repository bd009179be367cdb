"""Losses of the paper: cross-entropy, and focal loss (ViT classifier and every segmenter).

The focal loss is the authors' `FocalLoss(gamma=2, alpha=0.25)`: softmax cross-entropy per sample (or
pixel), times (1 - p_t)^gamma, times a class weight picked by the target from [alpha, 1 - alpha], so
the background weighs alpha = 0.25 and the deformation class 1 - alpha = 0.75. torchvision's
`sigmoid_focal_loss(alpha=0.25)` weighs the positive class by alpha instead: the inverse.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hephaestus.train.config import DEFORMATION_WEIGHT, FOCAL_GAMMA


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017) on two-class logits as the authors compute it; mean over samples and pixels."""

    def __init__(self, deformation_weight: float = DEFORMATION_WEIGHT, gamma: float = FOCAL_GAMMA) -> None:
        super().__init__()
        self.class_weights = (1.0 - deformation_weight, deformation_weight)
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target = logits.float(), target.long()
        ce = F.cross_entropy(logits, target, reduction="none")  # -ln p_t
        p_t = torch.exp(-ce)
        weight = torch.tensor(self.class_weights, dtype=logits.dtype, device=logits.device)[target]
        return (weight * (1.0 - p_t) ** self.gamma * ce).mean()


class CrossEntropy(nn.Module):
    """Cross-entropy on two-class logits (per image or per pixel)."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), target.long())


def make_loss(
    name: str, deformation_weight: float = DEFORMATION_WEIGHT, gamma: float = FOCAL_GAMMA
) -> nn.Module:
    if name == "focal":
        return FocalLoss(deformation_weight=deformation_weight, gamma=gamma)
    if name == "ce":
        return CrossEntropy()
    raise ValueError(f"unknown loss {name!r}; known: ce, focal")
