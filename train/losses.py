"""Losses of the paper: cross-entropy, and focal loss (ViT classifier and every segmenter).

Models emit two logits (no deformation, deformation). For two classes the softmax probability of the
deformation class is sigmoid(z1 - z0), so the softmax focal loss is torchvision's sigmoid focal loss
on the logit difference: one well-kept implementation serves both tasks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import sigmoid_focal_loss


def deformation_logit(logits: torch.Tensor) -> torch.Tensor:
    """Logit of the deformation class against the background from two-class logits (class axis 1)."""
    return logits[:, 1] - logits[:, 0]


class FocalLoss(nn.Module):
    """Binary focal loss (Lin et al. 2017) on two-class logits; mean over samples (and pixels)."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0) -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        z = deformation_logit(logits.float())
        return sigmoid_focal_loss(z, target.to(z.dtype), alpha=self.alpha, gamma=self.gamma, reduction="mean")


class CrossEntropy(nn.Module):
    """Cross-entropy on two-class logits (per image or per pixel)."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), target.long())


def make_loss(name: str, alpha: float = 0.25, gamma: float = 2.0) -> nn.Module:
    if name == "focal":
        return FocalLoss(alpha=alpha, gamma=gamma)
    if name == "ce":
        return CrossEntropy()
    raise ValueError(f"unknown loss {name!r}; known: ce, focal")
