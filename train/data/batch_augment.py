"""The training augmentation applied to a whole batch, in the training process, on the training device.

Why: per sample in the DataLoader workers (`augment.apply`, torchvision v2 on CPU tensors) the paper's
transforms cost several times what reading a crop costs (~17-37 ms of CPU per 9-channel 512 px crop, reading
~6 ms). Here they run in the training process after the transfer, on the samples that drew each step (the
rotation, the costly step, as one `grid_sample` with per-sample grids over the crop only): on a GPU that takes
them off the CPU entirely; on CPU it costs about what the per-sample path costs (docs/performance.md,
"Augmentation").

The parameters are the per-sample path's: `augment.draw` from `augment.augment_rng(seed, epoch,
index)` in the dataset, carried in the batch under `AUGMENT_KEY` (`AugmentParams.encode`). The
arithmetic follows torchvision's kernels step by step (reflect padding before the blur and the
rotation, torchvision's rotation grid, bilinear sampling for images and nearest for masks), so the
output equals `augment.apply` sample by sample up to float rounding (tests/train/data/test_batch_augment.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F

from hephaestus.train.data.augment import AUGMENT_KEY, AugmentParams, rotation_pad


def augment_batch(
    image: torch.Tensor, mask: torch.Tensor, params: Sequence[AugmentParams]
) -> tuple[torch.Tensor, torch.Tensor]:
    """image float [B, C, k, k], mask integer [B, k, k], one `AugmentParams` per sample -> augmented
    (image, mask), mask dtype kept. Works in place on the given tensors (they are the batch's own);
    the steps run in `augment.apply`'s order: blur, resized crop, flips, rotation.

    The blur, the resized crop and the flips act on each drawing sample's view of the batch (one
    kernel each, no gather or scatter of the others: measured cheaper on CPU than index-grouped
    batches, and a handful of launches on a GPU); the rotation, the costly step, is one
    `grid_sample` over every rotating sample with its own grid."""
    if len(params) != image.shape[0] or mask.shape[0] != image.shape[0]:
        raise ValueError(
            f"{len(params)} parameter sets for {image.shape[0]} images and {mask.shape[0]} masks"
        )
    for i, p in enumerate(params):
        if p.blur is not None:
            image[i] = _blur(image[i], *p.blur)
        if p.crop is not None:
            image[i], mask[i] = _resized_crop(image[i], mask[i], p.crop)
        if p.hflip:
            image[i], mask[i] = image[i].flip(-1), mask[i].flip(-1)
        if p.vflip:
            image[i], mask[i] = image[i].flip(-2), mask[i].flip(-2)
    rotating = [i for i, p in enumerate(params) if p.angle is not None]
    if rotating:
        idx = torch.tensor(rotating, dtype=torch.long, device=image.device)
        angles = [params[i].angle for i in rotating]
        image[idx], mask[idx] = _rotate(image[idx], mask[idx], angles)  # type: ignore[arg-type]
    return image, mask


def augment_on_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The batch with image and mask moved to `device` and augmented there, when it carries the
    augmentation's parameters (the dataset's `augment_on: "device"`); otherwise the batch as it is.
    The training step calls this first: a batch is augmented exactly once, right after the transfer."""
    rows = batch.get(AUGMENT_KEY)
    if rows is None:
        return batch
    image = batch["image"].to(device, non_blocking=True)
    mask = batch["mask"].to(device, non_blocking=True)
    image, mask = augment_batch(image, mask, AugmentParams.decode(rows))
    out = {k: v for k, v in batch.items() if k != AUGMENT_KEY}
    out.update(image=image, mask=mask)
    return out


def _blur(x: torch.Tensor, kernel: int, sigma: float) -> torch.Tensor:
    """Gaussian blur of one sample [C, k, k] as torchvision's `gaussian_blur` computes it: its 1-D
    kernel, their outer product, reflect padding, one grouped convolution."""
    c, h, w = x.shape
    k1d = gaussian_kernel1d(kernel, sigma, x.dtype, x.device)
    k2d = torch.mm(k1d[:, None], k1d[None, :]).expand(c, 1, kernel, kernel).contiguous()  # 5x faster on CPU
    half = kernel // 2
    padded = F.pad(x[None], [half, half, half, half], mode="reflect")
    return F.conv2d(padded, k2d, groups=c)[0]


def gaussian_kernel1d(kernel: int, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """torchvision's 1-D Gaussian kernel (`_get_gaussian_kernel1d`): exp(-x^2 / (2 sigma^2)) at the
    kernel's integer offsets, normalised; the blur is its outer product with itself (separable)."""
    lim = (kernel - 1) / (2.0 * math.sqrt(2.0))
    line = torch.linspace(-lim, lim, steps=kernel, dtype=dtype, device=device)
    return torch.softmax(line.div(sigma).pow(2).neg(), dim=0)


def _resized_crop(
    x: torch.Tensor, m: torch.Tensor, box: tuple[int, int, int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """One sample's box (top, left, height, width) resized back to the crop size: bilinear for the
    image (the box is never larger than the crop, so torchvision's antialias changes nothing and is
    left out), nearest for the mask (torch's "nearest": source index floor(i * box / size), by index)."""
    top, left, bh, bw = box
    h, w = x.shape[-2:]
    image = F.interpolate(
        x[None, :, top : top + bh, left : left + bw], size=(h, w), mode="bilinear", align_corners=False
    )[0]
    rows = nearest_index(bh, h, x.device) + top
    cols = nearest_index(bw, w, x.device) + left
    return image, m.index_select(0, rows).index_select(1, cols)


def nearest_index(length: int, size: int, device: torch.device) -> torch.Tensor:
    """Source indices of torch's "nearest" resize from `length` to `size` (float32 arithmetic, as its kernel)."""
    scale = torch.tensor(length, dtype=torch.float32) / size
    out = torch.arange(size, dtype=torch.float32) * scale
    return out.floor().long().clamp_max(length - 1).to(device)


def _rotation_theta(angle: float) -> list[float]:
    """torchvision's inverse affine matrix of `rotate(img, angle)` about the centre (its
    `_get_inverse_affine_matrix(center=0, -angle % 360, translate=0, scale=1, shear=0)`)."""
    rot = math.radians(-(angle % 360))
    a, b, c, d = math.cos(rot), -math.sin(rot), math.sin(rot), math.cos(rot)
    return [d, -b, 0.0, -c, a, 0.0]


def rotation_grid(
    angles: Sequence[float], h: int, w: int, pad: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """[N, h, w, 2] `grid_sample` grid of torchvision's rotation of the reflect-padded (by `pad`) crop,
    evaluated only where the crop lies (normalised to the padded size)."""
    n = len(angles)
    hp, wp = h + 2 * pad, w + 2 * pad
    theta = torch.tensor([_rotation_theta(a) for a in angles], dtype=dtype, device=device).reshape(n, 2, 3)
    xs = torch.linspace((1.0 - wp) * 0.5, (wp - 1.0) * 0.5, steps=wp, device=device)[pad : pad + w]
    ys = torch.linspace((1.0 - hp) * 0.5, (hp - 1.0) * 0.5, steps=hp, device=device)[pad : pad + h]
    base = torch.empty(1, h, w, 3, dtype=dtype, device=device)
    base[..., 0].copy_(xs)
    base[..., 1].copy_(ys[:, None])
    base[..., 2].fill_(1)
    scaled = theta.transpose(1, 2) / torch.tensor([0.5 * wp, 0.5 * hp], dtype=dtype, device=device)
    return base.view(1, h * w, 3).expand(n, h * w, 3).bmm(scaled).view(n, h, w, 2)


def rotate_mask(m: torch.Tensor, grid: torch.Tensor, pad: int) -> torch.Tensor:
    """Masks [N, h, w] rotated through `rotation_grid`: reflect-padded by `pad`, nearest, dtype kept."""
    mf = F.pad(m[:, None].to(grid.dtype), [pad, pad, pad, pad], mode="reflect")
    return F.grid_sample(mf, grid, "nearest", "zeros", align_corners=False)[:, 0].to(m.dtype)


def _rotate(x: torch.Tensor, m: torch.Tensor, angles: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation about the centre with reflect padding (`augment._rotate_reflect`): the image padded by
    reflection, sampled (bilinear; the mask nearest) through torchvision's rotation grid of the padded
    image, evaluated only where the crop lies."""
    h, w = x.shape[-2:]
    pad = rotation_pad(h, w)
    dtype = x.dtype if x.dtype.is_floating_point else torch.float32
    grid = rotation_grid(angles, h, w, pad, dtype, x.device)
    image = F.grid_sample(
        F.pad(x, [pad, pad, pad, pad], mode="reflect"), grid, "bilinear", "zeros", align_corners=False
    )
    return image, rotate_mask(m, grid, pad)
