"""Augmentations as the authors' code (albumentations 1.3 settings), on image and mask jointly.

Their pipeline: GaussianBlur p 0.3 (kernel 3..7, sigma 0.1..2), RandomResizedCrop p 0.3 (scale 0.08..1),
HorizontalFlip p 0.3, VerticalFlip p 0.3, Rotate p 0.6 (within +-90 degrees, reflect border, masks
nearest). Parameters are drawn first (`draw`, a numpy generator seeded from (seed, epoch, index)), then
applied with torchvision v2's functional ops (`apply`), so the draw is testable and the global torch
RNG is never touched. Blur acts on the image only; geometric ops act on image and mask alike.

Where they are applied is the data specification's `augment_on` (`augment_item`): "loader" applies them
per sample here, in the DataLoader workers; "device" leaves the crop as read and puts the drawn
parameters into the sample (`AUGMENT_KEY`), and the training step applies them to the whole batch on
its device (`batch_augment.augment_on_device`), with the same parameters and the same result; "read"
applies them per sample right after the read as one compiled warp (`fused_augment`: same parameters and
geometry, one interpolation where today's path makes two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from hephaestus.train.data.config import AugmentConfig, LoaderConfig

AUGMENT_KEY = "augment"
"""Key of a sample's (and a batch's) drawn augmentation parameters when they are applied on the device."""
_NONE = math.nan

if TYPE_CHECKING:
    from torchvision.transforms.v2 import InterpolationMode


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

    def encode(self) -> torch.Tensor:
        """float64 [9]: (kernel, sigma, top, left, height, width, hflip, vflip, angle), NaN for a skipped
        step; exact for every value (integers and Python floats), so `decode` gives the same parameters."""
        blur = self.blur or (_NONE, _NONE)
        crop = self.crop or (_NONE,) * 4
        angle = _NONE if self.angle is None else self.angle
        return torch.tensor([*blur, *crop, float(self.hflip), float(self.vflip), angle], dtype=torch.float64)

    @staticmethod
    def decode(rows: torch.Tensor) -> list[AugmentParams]:
        """The parameters of each row of a collated [B, 9] tensor of `encode`d parameters."""
        out = []
        for k, s, t, left, h, w, hf, vf, a in rows.detach().cpu().tolist():
            blur = None if math.isnan(k) else (int(k), s)
            crop = None if math.isnan(t) else (int(t), int(left), int(h), int(w))
            out.append(AugmentParams(blur, crop, bool(hf), bool(vf), None if math.isnan(a) else a))
        return out


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


def rotation_pad(h: int, w: int) -> int:
    """Reflect padding around an h x w crop before rotating it: enough for the rotated crop's corners
    (half the diagonal's excess, plus one), at most what reflection allows."""
    pad = math.ceil(max(h, w) * (math.sqrt(2) - 1) / 2) + 1
    return min(pad, h - 1, w - 1)


def _rotate_reflect(x: torch.Tensor, angle: float, interpolation: InterpolationMode) -> torch.Tensor:
    """Rotate about the centre with reflect padding (albumentations' BORDER_REFLECT_101 = torch 'reflect')."""
    from torchvision.transforms.v2 import functional as F

    h, w = x.shape[-2:]
    pad = rotation_pad(h, w)
    padded = F.pad(x, [pad, pad, pad, pad], padding_mode="reflect")
    rotated = F.rotate(padded, angle, interpolation=interpolation)
    return rotated[..., pad : pad + h, pad : pad + w]


def apply(
    image: torch.Tensor, mask: torch.Tensor, params: AugmentParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """image float32 [C, k, k], mask int64 [k, k] -> augmented copies (the mask stays in {0, 1})."""
    from torchvision.transforms.v2 import InterpolationMode  # torchvision loads in seconds: when used
    from torchvision.transforms.v2 import functional as F

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


def augment_item(
    cfg: LoaderConfig, epoch: int, index: int, image: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """A training sample's augmentation as `cfg.augment_on` says: (image, mask, extra sample entries).
    "loader": augmented here, nothing extra; "read": likewise through the fused warp (`fused_augment`); "device": as read, plus the drawn parameters under
    `AUGMENT_KEY` for the training step (`batch_augment.augment_on_device`)."""
    params = draw(cfg.augmentation, cfg.crop_size, augment_rng(cfg.seed, epoch, index))
    if cfg.augment_on == "device":
        return image, mask, {AUGMENT_KEY: params.encode()}
    if cfg.augment_on == "read":
        from hephaestus.train.data import fused_augment  # numba-compiled: loaded when chosen

        image, mask = fused_augment.apply(image, mask, params)
        return image, mask, {}
    image, mask = apply(image, mask, params)
    return image, mask, {}
