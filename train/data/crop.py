"""Where a crop goes: around the deformation with a bounded random offset, inside the image."""

from __future__ import annotations

import numpy as np

BBox = tuple[int, int, int, int]
"""Inclusive pixel box (row_min, row_max, col_min, col_max)."""


def _axis_start(n: int, k: int, lo: int | None, hi: int | None, offset: int) -> int:
    """Start of a window of size k on an axis of size n.

    Frames no larger than the crop start at 0 (the rest is padded). With a box [lo, hi] smaller
    than the crop, the centred start shifted by `offset` is limited so the box stays inside and
    the window stays in the image; a box larger than the crop is centred on (offset ignored).
    """
    if n <= k:
        return 0
    if lo is None or hi is None:
        start = (n - k) // 2 + offset
        return int(min(max(start, 0), n - k))
    length = hi - lo + 1
    if length >= k:
        start = lo + (length - k) // 2
        return int(min(max(start, 0), n - k))
    centre = (lo + hi + 1) // 2
    start = centre - k // 2 + offset
    low = max(hi + 1 - k, 0)
    high = min(lo, n - k)
    return int(min(max(start, low), high))


def place_window(
    height: int,
    width: int,
    crop: int,
    bbox: BBox | None,
    max_offset: int,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """Top-left (row, col) of a `crop` x `crop` window (deterministic for a given `rng` state).

    One offset (dr, dc), uniform in [-max_offset, max_offset], is drawn for every sample: frames with
    a mask shift the crop centred on the mask box (the box kept inside), frames without one shift the
    crop centred on the frame (the authors' rule; an exactly centred negative is a position cue).
    """
    dr, dc = (int(v) for v in rng.integers(-max_offset, max_offset + 1, size=2)) if max_offset else (0, 0)
    if bbox is None:
        return _axis_start(height, crop, None, None, dr), _axis_start(width, crop, None, None, dc)
    r_lo, r_hi, c_lo, c_hi = bbox
    return _axis_start(height, crop, r_lo, r_hi, dr), _axis_start(width, crop, c_lo, c_hi, dc)


def union_bbox(boxes: list[BBox | None]) -> BBox | None:
    """Smallest box holding every given box (None when there is none)."""
    real = [b for b in boxes if b is not None]
    if not real:
        return None
    return (
        min(b[0] for b in real),
        max(b[1] for b in real),
        min(b[2] for b in real),
        max(b[3] for b in real),
    )
