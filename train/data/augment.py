"""Augmentations applied identically to image and mask (torchvision v2 on tv_tensors)."""

from __future__ import annotations

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from hephaestus.train.data.config import AugmentConfig


def build_transform(cfg: AugmentConfig, crop_size: int) -> v2.Transform:
    """Blur (image only: v2 leaves masks alone), resized crop, flips and rotation (nearest for masks).

    Pixels that rotate in from outside are 0 in the image (the mean after z-scoring) and 0 in the mask.
    """
    return v2.Compose(
        [
            v2.RandomApply([v2.GaussianBlur(cfg.blur_kernel, sigma=cfg.blur_sigma)], p=cfg.blur_p),
            v2.RandomResizedCrop(
                size=crop_size, scale=cfg.resized_crop_scale, ratio=cfg.resized_crop_ratio, antialias=True
            ),
            v2.RandomHorizontalFlip(p=cfg.flip_p),
            v2.RandomVerticalFlip(p=cfg.flip_p),
            v2.RandomRotation(degrees=cfg.rotation_degrees, fill=0),
        ]
    )


def augment_seed(seed: int, epoch: int, index: int) -> int:
    """The torch seed of one sample's augmentation: a function of (seed, epoch, index) only."""
    return int(np.random.SeedSequence([seed, epoch, index, 0xA06]).generate_state(1, dtype=np.uint64)[0] >> 1)


def apply(
    transform: v2.Transform, image: torch.Tensor, mask: torch.Tensor, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run `transform` on image [C,H,W] and mask [H,W] with a scoped RNG (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        img, msk = transform(tv_tensors.Image(image), tv_tensors.Mask(mask))
    return img.as_subclass(torch.Tensor), msk.as_subclass(torch.Tensor)
