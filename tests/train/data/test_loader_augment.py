"""Augmentations move image and mask together and are a function of (seed, epoch, index)."""

from __future__ import annotations

import pytest
import torch
from loader_rows import STATS

from hephaestus.train.data import AugmentConfig, LoaderConfig, MinicubeDataset
from hephaestus.train.data.augment import apply, augment_seed, build_transform

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


def marker_pair(k: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.zeros(k, k, dtype=torch.int64)
    mask[10:34, 20:50] = 1  # an asymmetric blob, so flips and rotations show
    mask[34:44, 20:28] = 1
    image = torch.randn(4, k, k) * 0.1
    image[2] = mask.float()  # a mask-shaped marker in one channel
    return image, mask


@pytest.mark.parametrize("seed", range(12))
def test_marker_channel_moves_with_the_mask(seed):
    image, mask = marker_pair()
    transform = build_transform(AugmentConfig(blur_p=0.0), 64)
    img, msk = apply(transform, image, mask, seed)
    assert img.shape == (4, 64, 64) and msk.shape == (64, 64)
    assert msk.dtype == torch.int64 and set(msk.unique().tolist()) <= {0, 1}
    marker = img[2] > 0.5
    disagree = (marker != msk.bool()).float().mean().item()
    assert disagree < 0.03, disagree  # bilinear image vs nearest mask differ only along edges
    if msk.sum() > 50:
        # same centroid within a pixel or two
        ys, xs = torch.nonzero(msk, as_tuple=True)
        my, mx = torch.nonzero(marker, as_tuple=True)
        assert (
            abs(ys.float().mean() - my.float().mean()) < 2 and abs(xs.float().mean() - mx.float().mean()) < 2
        )


def test_blur_changes_the_image_but_not_the_mask():
    image, mask = marker_pair()
    cfg = AugmentConfig(
        blur_p=1.0,
        blur_sigma=(2.0, 2.0),
        resized_crop_scale=(1.0, 1.0),
        resized_crop_ratio=(1.0, 1.0),
        flip_p=0.0,
        rotation_degrees=0.0,
    )
    img, msk = apply(build_transform(cfg, 64), image, mask, 0)
    assert torch.equal(msk, mask)
    assert not torch.allclose(img, image)


def test_geometry_is_really_applied():
    image, mask = marker_pair()
    moved = [
        not torch.equal(apply(build_transform(AugmentConfig(), 64), image, mask, s)[1], mask)
        for s in range(8)
    ]
    assert sum(moved) >= 6


def test_dataset_augmentation_is_deterministic_per_seed_and_epoch(cubes, rows):
    _, url = cubes["platform"]
    cfg = LoaderConfig(store_url="u", crop_size=32, max_offset=8, augment=True, seed=11)
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
    a.set_epoch(0)
    e0 = a[0]["image"]
    a.set_epoch(1)
    assert not torch.equal(e0, a[0]["image"])
    assert augment_seed(11, 0, 0) != augment_seed(11, 1, 0) != augment_seed(11, 0, 1)
