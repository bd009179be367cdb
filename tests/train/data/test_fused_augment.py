"""The fused augmentation (`fused_augment`, `augment_on: "read"`) is today's transforms (`augment.apply`) for
the same drawn parameters: masks exactly equal in every case; images equal up to float rounding wherever
at most one step interpolates, and within the interpolation error where the resized crop and the rotation
(two bilinear interpolations today) become one; and the dataset draws its parameters with `augment.draw`,
the per-sample path's own, so the distribution is the same object.

Tolerances, derived rather than fitted:
  float rounding (one interpolation): the fused map computes sample positions in float64, torchvision's
  grid in float32, a few ulp of ~100 px apart (~1e-5 px at K = 64); a bilinear value moves by at most that
  times the largest neighbour difference of the image (< 8 for N(0, 1) noise): < 1e-4, so 2e-4.
  interpolation (resized crop + rotation, smooth image f = sin(k . x + phase)): bilinear interpolation of a
  function errs by at most (h_x^2 |f_xx| + h_y^2 |f_yy|) / 8 <= |k|^2 / 8 on a unit (or finer) grid, once
  for the fused path and twice for today's, so the two differ by at most 3 |k|^2 / 8; along the box's edge
  today's resize clamps positions up to half a source pixel before the rotation's blend, the fused warp
  after it: a further |k| / 2 at most (the band where it applies is one output pixel along the rotated box
  edge; the bound holds everywhere).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from augment_cases import ONE_STEP, K
from loader_rows import STATS
from pydantic import ValidationError

from hephaestus.train.data import AugmentConfig, LoaderConfig, MinicubeDataset, fused_augment
from hephaestus.train.data.augment import AugmentParams, apply, augment_item, augment_rng, draw

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")

ROUNDING = 2e-4
FREQ = (0.17, -0.11)  # rad / px: |k| = 0.2025, so the interpolation bound is ~0.117
SMOOTH = 3 * (FREQ[0] ** 2 + FREQ[1] ** 2) / 8 + math.hypot(*FREQ) / 2
EXACT = {  # at most one step interpolates: today's values up to float rounding
    **ONE_STEP,
    "both flips": AugmentParams(None, None, True, True, None),
    "rotate -90": AugmentParams(None, None, False, False, -90.0),
    "blur, flips, rotation": AugmentParams((5, 1.1), None, True, True, 12.25),
    "blur, box, flips": AugmentParams((5, 1.1), (3, 2, 50, 44), True, True, None),
}
TWO_INTERPOLATIONS = {
    "box + rotation": AugmentParams(None, (5, 9, 30, 41), False, False, 33.0),
    "small box + rotation": AugmentParams(None, (20, 3, 18, 23), False, False, -71.0),
    "everything": AugmentParams((5, 1.1), (3, 2, 50, 44), True, True, 12.25),
    "hflip, box, rotation -88": AugmentParams(None, (0, 10, 60, 54), True, False, -88.0),
}


def noise(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(4, K, K, generator=g)
    mask = (torch.rand(K, K, generator=g) > 0.6).long()
    mask[10:30, 20:50] = 1  # a blob, so geometry shows in the mask
    return image, mask


def smooth() -> torch.Tensor:
    """[3, K, K] plane waves of frequency FREQ, three phases."""
    y, x = torch.meshgrid(
        torch.arange(K, dtype=torch.float64), torch.arange(K, dtype=torch.float64), indexing="ij"
    )
    phases = torch.tensor([0.0, 1.0, 2.5], dtype=torch.float64)[:, None, None]
    return torch.sin(FREQ[0] * x + FREQ[1] * y + phases).to(torch.float32)


@pytest.mark.parametrize("name", list(EXACT))
def test_where_at_most_one_step_interpolates_the_values_are_todays(name):
    image, mask = noise()
    expected_image, expected_mask = apply(image, mask, EXACT[name])
    out_image, out_mask = fused_augment.apply(image, mask, EXACT[name])
    assert out_image.dtype == torch.float32 and out_image.shape == image.shape
    assert torch.allclose(out_image, expected_image, atol=ROUNDING, rtol=0)
    assert out_mask.dtype == mask.dtype and torch.equal(out_mask, expected_mask)


@pytest.mark.parametrize("name", list(TWO_INTERPOLATIONS))
def test_resized_crop_and_rotation_in_one_warp_differ_by_the_interpolation_error_only(name):
    params = TWO_INTERPOLATIONS[name]
    _, mask = noise()
    image = smooth()
    expected_image, expected_mask = apply(image, mask, params)
    out_image, out_mask = fused_augment.apply(image, mask, params)
    assert torch.equal(out_mask, expected_mask)  # masks follow today's steps exactly
    assert (out_image - expected_image).abs().max() <= SMOOTH


def test_the_tolerance_sees_three_degrees_of_rotation():
    """The bound is tight enough to catch a wrong geometry: three degrees off (corners ~1.6 px away in the
    box's source pixels) move the output by more; the right angle stays ~5x inside it (0.021 measured)."""
    params = TWO_INTERPOLATIONS["box + rotation"]
    wrong = AugmentParams(params.blur, params.crop, params.hflip, params.vflip, params.angle + 3.0)
    _, mask = noise()
    expected, _ = apply(smooth(), mask, params)
    out, _ = fused_augment.apply(smooth(), mask, wrong)
    assert (out - expected).abs().max() > SMOOTH


def test_the_authors_draws_masks_exact_and_images_as_bounded():
    image = smooth()
    _, mask = noise(1)
    params = [draw(AugmentConfig(), K, augment_rng(7, 2, i)) for i in range(40)]
    assert any(p.crop and p.angle is not None for p in params)
    for p in params:
        expected_image, expected_mask = apply(image, mask, p)
        out_image, out_mask = fused_augment.apply(image, mask, p)
        assert torch.equal(out_mask, expected_mask), p
        tol = SMOOTH if p.crop and p.angle is not None else ROUNDING
        assert (out_image - expected_image).abs().max() <= tol, p


def test_the_fused_path_draws_with_the_per_sample_draw():
    cfg = LoaderConfig(crop_size=K, augment=True, augment_on="read", seed=3)
    image, mask = noise(2)
    for index in range(12):
        out_image, out_mask, extra = augment_item(cfg, 5, index, image, mask)
        params = draw(cfg.augmentation, K, augment_rng(3, 5, index))
        expected_image, expected_mask = fused_augment.apply(image, mask, params)
        assert extra == {} and torch.equal(out_image, expected_image) and torch.equal(out_mask, expected_mask)


def test_augment_on_is_typed():
    assert LoaderConfig(augment_on="read").augment_on == "read"
    with pytest.raises(ValidationError):
        LoaderConfig(augment_on="gpu")


def test_the_dataset_reading_fused_gives_todays_masks(cubes, rows):
    base = dict(store_url="u", crop_size=32, max_offset=8, augment=True, seed=11, undersample=False)
    fused = MinicubeDataset(rows["platform"], None, STATS, LoaderConfig(**base, augment_on="read"))
    today = MinicubeDataset(rows["platform"], None, STATS, LoaderConfig(**base, augment_on="loader"))
    for ds in (fused, today):
        ds.set_epoch(3)
    for i in range(min(len(fused), 8)):
        a, b = fused[i], today[i]
        assert torch.equal(a["mask"], b["mask"]) and torch.equal(a["label"], b["label"])
        params = draw(fused.cfg.augmentation, 32, augment_rng(11, 3, i))
        if not (params.crop and params.angle is not None):
            assert torch.allclose(a["image"], b["image"], atol=ROUNDING, rtol=0)
        assert np.isfinite(a["image"].numpy()).all()
