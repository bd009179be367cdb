"""Where a crop goes: around the deformation with a bounded random offset, inside the image, or (frame
windows) anywhere in the frame; and what a frame window's label is."""

from __future__ import annotations

import numpy as np

BBox = tuple[int, int, int, int]
"""Inclusive pixel box (row_min, row_max, col_min, col_max)."""

MIN_DEFORMED_FRACTION = 0.01
"""A frame window is positive when at least this fraction of its pixels is deformation (1 %: 41 px of a
64 px window, 2,622 of a 512 px one), or when it holds the whole mask box and some of the mask (a
deformation smaller than that must still count where it is wholly seen)."""


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


def uniform_window(height: int, width: int, crop: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left (row, col) of a `crop` x `crop` window uniform over every position inside the frame.

    Each start is uniform on 0..size - crop (0 where the frame is no larger than the crop: padded);
    the monitor's sliding windows cover the same positions, so any of them can be a training sample.
    """
    r0 = int(rng.integers(0, height - crop + 1)) if height > crop else 0
    c0 = int(rng.integers(0, width - crop + 1)) if width > crop else 0
    return r0, c0


def window_label(mask: np.ndarray, r0: int, c0: int, bbox: BBox | None) -> int:
    """1 when the window at (r0, c0) whose mask is `mask` [k, k] holds deformation, else 0.

    Holds deformation: at least `MIN_DEFORMED_FRACTION` of its pixels are mask pixels, or it holds some
    mask and the whole mask box `bbox` (frame coordinates) lies inside it. A pair's label says the frame
    shows deformation somewhere; a window's says whether this window shows it.
    """
    deformed = int(np.count_nonzero(mask))
    if deformed == 0:
        return 0
    k_rows, k_cols = mask.shape
    if deformed >= MIN_DEFORMED_FRACTION * k_rows * k_cols:
        return 1
    if bbox is None:
        return 0
    r_lo, r_hi, c_lo, c_hi = bbox
    inside = r0 <= r_lo and r_hi < r0 + k_rows and c0 <= c_lo and c_hi < c0 + k_cols
    return int(inside)
