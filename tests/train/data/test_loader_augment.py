"""Augmentations: the authors' albumentations 1.3 settings, image and mask moved together, seeded per sample.

The expected probabilities and ranges are the authors' (written here literally, not read from the code):
GaussianBlur p 0.3 kernel 3..7 sigma 0.1..2, RandomResizedCrop p 0.3 scale 0.08..1, HorizontalFlip p 0.3,
VerticalFlip p 0.3, Rotate p 0.6 within +-90 degrees with reflect border.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loader_rows import STATS

from hephaestus.train.data import AugmentConfig, LoaderConfig, MinicubeDataset
from hephaestus.train.data.augment import AugmentParams, apply, augment_rng, draw

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")

NONE = AugmentParams(blur=None, crop=None, hflip=False, vflip=False, angle=None)


def marker_pair(k: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.zeros(k, k, dtype=torch.int64)
    mask[10:34, 20:50] = 1  # an asymmetric blob, so flips and rotations show
    mask[34:44, 20:28] = 1
    image = torch.randn(4, k, k) * 0.1
    image[2] = mask.float()  # a mask-shaped marker in one channel
    return image, mask


def test_parameter_distribution_over_many_draws_is_the_authors():
    cfg = AugmentConfig()
    n = 20000
    draws = [draw(cfg, 512, np.random.default_rng([5, i])) for i in range(n)]
    # binomial std at p 0.3, n 20000 is 0.0032: 0.015 is more than 4 sigma
    assert np.mean([d.blur is not None for d in draws]) == pytest.approx(0.3, abs=0.015)
    assert np.mean([d.crop is not None for d in draws]) == pytest.approx(0.3, abs=0.015)
    assert np.mean([d.hflip for d in draws]) == pytest.approx(0.3, abs=0.015)
    assert np.mean([d.vflip for d in draws]) == pytest.approx(0.3, abs=0.015)
    assert np.mean([d.angle is not None for d in draws]) == pytest.approx(0.6, abs=0.015)
    kernels = [d.blur[0] for d in draws if d.blur]
    sigmas = [d.blur[1] for d in draws if d.blur]
    assert set(kernels) == {3, 5, 7}
    assert 0.1 <= min(sigmas) < 0.2 and 1.9 < max(sigmas) <= 2.0
    angles = np.array([d.angle for d in draws if d.angle is not None])
    assert angles.min() >= -90 and angles.max() <= 90
    assert angles.min() < -85 and angles.max() > 85 and abs(angles.mean()) < 3  # uniform on +-90
    areas = np.array([d.crop[2] * d.crop[3] / 512**2 for d in draws if d.crop])
    assert areas.min() < 0.12 and areas.max() > 0.95  # scale (0.08, 1) of the crop's area
    for d in draws:
        if d.crop:
            top, left, h, w = d.crop
            assert 0 <= top <= 512 - h and 0 <= left <= 512 - w


def test_draws_are_a_function_of_seed_epoch_and_index():
    cfg = AugmentConfig()
    assert draw(cfg, 64, augment_rng(1, 2, 3)) == draw(cfg, 64, augment_rng(1, 2, 3))
    others = {draw(cfg, 64, augment_rng(s, e, i)) for s, e, i in [(1, 2, 4), (1, 3, 3), (2, 2, 3)]}
    assert draw(cfg, 64, augment_rng(1, 2, 3)) not in others or len(others) == 3


def test_flips_by_hand():
    image, mask = marker_pair()
    img, msk = apply(image, mask, AugmentParams(None, None, hflip=True, vflip=False, angle=None))
    assert torch.equal(msk, mask.flip(-1)) and torch.equal(img, image.flip(-1))
    img, msk = apply(image, mask, AugmentParams(None, None, hflip=False, vflip=True, angle=None))
    assert torch.equal(msk, mask.flip(-2)) and torch.equal(img, image.flip(-2))


def test_rotation_by_90_degrees_turns_the_mask_and_pads_by_reflection():
    image, mask = marker_pair()
    _, msk = apply(image, mask, AugmentParams(None, None, False, False, angle=90.0))
    assert torch.equal(msk, torch.rot90(mask, 1, (0, 1)))  # counter-clockwise quarter turn
    # at 45 degrees the corners come from outside the crop: reflected content, never a constant 0 fill
    ramp = torch.arange(64, dtype=torch.float32).expand(64, 64).clone() + 10.0
    img, _ = apply(
        ramp[None], torch.zeros(64, 64, dtype=torch.int64), AugmentParams(None, None, False, False, 45.0)
    )
    corners = img[0, :6, :6]
    assert (corners > 5).all()


def test_blur_changes_the_image_but_not_the_mask():
    image, mask = marker_pair()
    img, msk = apply(image, mask, AugmentParams((7, 2.0), None, False, False, None))
    assert torch.equal(msk, mask)
    assert not torch.allclose(img, image)


@pytest.mark.parametrize("seed", range(12))
def test_marker_channel_moves_with_the_mask(seed):
    image, mask = marker_pair()
    params = draw(AugmentConfig(blur_p=0.0), 64, augment_rng(seed, 0, 0))
    img, msk = apply(image, mask, params)
    assert img.shape == (4, 64, 64) and msk.shape == (64, 64)
    assert msk.dtype == torch.int64 and set(msk.unique().tolist()) <= {0, 1}
    marker = img[2] > 0.5
    disagree = (marker != msk.bool()).float().mean().item()
    assert disagree < 0.03, disagree  # bilinear image vs nearest mask differ only along edges


def test_nothing_drawn_leaves_the_sample_untouched():
    image, mask = marker_pair()
    img, msk = apply(image, mask, NONE)
    assert torch.equal(img, image) and torch.equal(msk, mask)


def test_dataset_augmentation_is_deterministic_per_seed_and_epoch(cubes, rows):
    cfg = LoaderConfig(store_url="u", crop_size=32, max_offset=8, augment=True, seed=11, undersample=False)
    a = MinicubeDataset(rows["platform"], None, STATS, cfg)
    b = MinicubeDataset(rows["platform"], None, STATS, cfg)
    state = torch.get_rng_state()
    for epoch in (0, 1):
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        x, y = a[0], b[0]
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])
        assert not torch.isnan(x["image"]).any()
    assert torch.equal(torch.get_rng_state(), state)  # global RNG untouched
    changed = 0
    for index in range(min(len(a), 6)):
        a.set_epoch(0)
        e0 = a[index]["image"]
        a.set_epoch(1)
        changed += not torch.equal(e0, a[index]["image"])
    assert changed >= 3
