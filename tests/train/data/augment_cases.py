"""Single-transform augmentation cases shared by the per-sample, batched and fused augmentation tests."""

from __future__ import annotations

from hephaestus.train.data.augment import AugmentParams

K = 64
"""Crop side of the cases (the resized-crop boxes lie inside it)."""
ONE_STEP = {
    "blur 3": AugmentParams((3, 0.4), None, False, False, None),
    "blur 7": AugmentParams((7, 1.9), None, False, False, None),
    "resized crop": AugmentParams(None, (5, 9, 30, 41), False, False, None),
    "whole-crop box": AugmentParams(None, (0, 0, K, K), False, False, None),
    "hflip": AugmentParams(None, None, True, False, None),
    "vflip": AugmentParams(None, None, False, True, None),
    "rotate 33": AugmentParams(None, None, False, False, 33.0),
    "nothing": AugmentParams(None, None, False, False, None),
}
"""One transform each (or none): every path must give today's per-sample result up to float rounding."""
