"""Augmentations as the authors' code (albumentations 1.3 settings), on image and mask jointly.

Their pipeline: GaussianBlur p 0.3 (kernel 3..7, sigma 0.1..2), RandomResizedCrop p 0.3 (scale 0.08..1),
HorizontalFlip p 0.3, VerticalFlip p 0.3, Rotate p 0.6 (within +-90 degrees, reflect border, masks
nearest). Parameters are drawn first (`draw`, a numpy generator seeded from (seed, epoch, index)), then
applied with torchvision v2's functional ops (`apply`), so the draw is testable and the global torch
RNG is never touched. Blur acts on the image only; geometric ops act on image and mask alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from hephaestus.train.data.config import AugmentConfig


@dataclass(frozen=True)
class AugmentParams:
    """One sample's augmentation: None / False where a step is skipped."""

    blur: tuple[int, float] | None
    """(odd kernel size, sigma)."""
    crop: tuple[int, int, int, int] | None
    """(top, left, height, width) of the region resized back to the crop size."""
    hflip: bool
    vflip: bool
    angle: float | None
    """Degrees, counter-clockwise."""


def augment_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one sample's augmentation: a function of (seed, epoch, index) only."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, index, 0xA06]))


def _resized_crop_box(
    rng: np.random.Generator, size: int, scale: tuple[float, float], ratio: tuple[float, float]
) -> tuple[int, int, int, int]:
    """RandomResizedCrop's box (torchvision/albumentations rule: 10 tries, then the central crop)."""
    area = size * size
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= size and 0 < h <= size:
            return int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1)), h, w
    return 0, 0, size, size


def draw(cfg: AugmentConfig, size: int, rng: np.random.Generator) -> AugmentParams:
    """Draw every step's parameters (each step's coin first, then its values)."""
    blur = None
    if rng.random() < cfg.blur_p:
        kernels = [k for k in range(cfg.blur_kernel[0], cfg.blur_kernel[1] + 1) if k % 2 == 1]
        blur = (int(rng.choice(kernels)), float(rng.uniform(*cfg.blur_sigma)))
    crop = None
    if rng.random() < cfg.resized_crop_p:
        crop = _resized_crop_box(rng, size, cfg.resized_crop_scale, cfg.resized_crop_ratio)
    hflip = bool(rng.random() < cfg.flip_p)
    vflip = bool(rng.random() < cfg.flip_p)
    angle = None
    if rng.random() < cfg.rotation_p:
        angle = float(rng.uniform(-cfg.rotation_degrees, cfg.rotation_degrees))
    return AugmentParams(blur, crop, hflip, vflip, angle)


def _rotate_reflect(x: torch.Tensor, angle: float, interpolation: InterpolationMode) -> torch.Tensor:
    """Rotate about the centre with reflect padding (albumentations' BORDER_REFLECT_101 = torch 'reflect')."""
    h, w = x.shape[-2:]
    pad = math.ceil(max(h, w) * (math.sqrt(2) - 1) / 2) + 1
    pad = min(pad, h - 1, w - 1)
    padded = F.pad(x, [pad, pad, pad, pad], padding_mode="reflect")
    rotated = F.rotate(padded, angle, interpolation=interpolation)
    return rotated[..., pad : pad + h, pad : pad + w]


def apply(
    image: torch.Tensor, mask: torch.Tensor, params: AugmentParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """image float32 [C, k, k], mask int64 [k, k] -> augmented copies (the mask stays in {0, 1})."""
    size = list(image.shape[-2:])
    msk = mask[None].to(torch.float32)  # geometric ops interpolate floats; nearest keeps the codes
    img = image
    if params.blur is not None:
        kernel, sigma = params.blur
        img = F.gaussian_blur(img, [kernel, kernel], [sigma, sigma])
    if params.crop is not None:
        top, left, h, w = params.crop
        img = F.resized_crop(img, top, left, h, w, size, InterpolationMode.BILINEAR, antialias=True)
        msk = F.resized_crop(msk, top, left, h, w, size, InterpolationMode.NEAREST, antialias=False)
    if params.hflip:
        img, msk = F.horizontal_flip(img), F.horizontal_flip(msk)
    if params.vflip:
        img, msk = F.vertical_flip(img), F.vertical_flip(msk)
    if params.angle is not None:
        img = _rotate_reflect(img, params.angle, InterpolationMode.BILINEAR)
        msk = _rotate_reflect(msk, params.angle, InterpolationMode.NEAREST)
    return img.contiguous(), msk[0].to(torch.int64).contiguous()
