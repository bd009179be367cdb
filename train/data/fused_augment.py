"""The training augmentation fused into the read: one compiled warp per crop instead of four transforms.

Why: per sample (`augment.apply`, torchvision v2) or batched (`batch_augment`) on CPU, the paper's
transforms cost ~3x what reading the crop costs, mostly because each geometric step is a separate pass over
every channel (resized crop, two flips, then the rotation over a reflect-padded copy). Here the drawn
parameters (`augment.draw`, the same draw, so the same distribution) become, per output pixel, one source
position in the read crop: the rotation about the crop centre, the reflect padding (applied to the resized,
flipped crop, where today's rotation pads it), the flips (index order) and the resized crop's scale and
offset composed; one bilinear sample of the (blurred) crop per channel then gives the output. The map is
computed once per output tile and used for every channel, so a series' 36 channels share it.

Same geometry as `augment.apply`; the values differ only where two interpolations (resized crop, then
rotation) become one: there the fused value is the bilinear sample of the source at the same position,
which the two-step path approximates twice (tests/train/data/test_fused_augment.py bounds the difference
by the interpolation error). Where at most one step interpolates (rotation alone, resized crop alone,
flips) the values are today's up to float rounding. The blur (first, on the read crop, as today) is
separable with torchvision's kernel and reflect border, computed only where the warp reads. Masks follow
today's steps exactly (nearest index of the resized crop, flips, the rotation's nearest `grid_sample`),
since composing nearest lookups would move mask edges by a pixel.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit

from hephaestus.train.data.augment import AugmentParams, rotation_pad
from hephaestus.train.data.batch_augment import gaussian_kernel1d, nearest_index, rotate_mask, rotation_grid


def apply(
    image: torch.Tensor, mask: torch.Tensor, params: AugmentParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """image float32 [C, k, k], mask integer [k, k] -> augmented copies, as `augment.apply` (same
    parameters, same geometry; see the module docstring for the values)."""
    src = np.ascontiguousarray(image.numpy(), dtype=np.float32)
    _, h, w = src.shape
    top, left, bh, bw = params.crop if params.crop is not None else (0, 0, h, w)
    if params.blur is not None:
        kernel, sigma = params.blur
        line = gaussian_kernel1d(kernel, sigma, torch.float32, torch.device("cpu")).numpy()
        # the warp reads the box (and, by bilinear clamping, nothing outside it): blur only there
        src = _blur(src, line, top, top + bh, left, left + bw)
    warp = params.crop is not None or params.angle is not None
    if warp:
        rot = math.radians(-(params.angle % 360)) if params.angle is not None else 0.0
        out = _warp(
            src,
            h,
            w,
            math.cos(rot),
            math.sin(rot),
            params.angle is not None,
            params.hflip,
            params.vflip,
            top,
            left,
            bh,
            bw,
        )
        return torch.from_numpy(out), _mask(mask, params)
    flips = [d for d, f in ((-1, params.hflip), (-2, params.vflip)) if f]
    out_t = torch.from_numpy(src)
    if flips:
        return out_t.flip(flips), _mask(mask, params)  # one reversed copy (torch's is the fastest measured)
    return (out_t if params.blur is not None else image), _mask(mask, params)  # as `augment.apply`: no copy


def _mask(mask: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Today's mask steps one by one (exact): nearest resized crop by index, flips, nearest rotation."""
    m = mask
    h, w = m.shape
    if params.crop is not None:
        top, left, bh, bw = params.crop
        m = m.index_select(0, nearest_index(bh, h, m.device) + top)
        m = m.index_select(1, nearest_index(bw, w, m.device) + left)
    if params.hflip:
        m = m.flip(-1)
    if params.vflip:
        m = m.flip(-2)
    if params.angle is not None:
        pad = rotation_pad(h, w)
        m = rotate_mask(m[None], rotation_grid([params.angle], h, w, pad, torch.float32, m.device), pad)[0]
    return m.contiguous()


@njit(cache=True, nogil=True, boundscheck=False)
def _reflect(i: int, n: int) -> int:
    """Reflect-101 index (torch's "reflect", OpenCV's BORDER_REFLECT_101), one reflection."""
    if i < 0:
        i = -i
    if i >= n:
        i = 2 * (n - 1) - i
    return i


@njit(cache=True, nogil=True, boundscheck=False)
def _tap_sum(row: np.ndarray, line: np.ndarray, x: int, w: int) -> float:
    """One blurred value of a row at column x, reflecting the taps that leave it (the border columns)."""
    half = line.shape[0] // 2
    acc = np.float32(0.0)
    for t in range(line.shape[0]):
        acc += line[t] * row[_reflect(x + t - half, w)]
    return acc


@njit(cache=True, nogil=True, boundscheck=False)
def _blur(src: np.ndarray, line: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Separable Gaussian blur of src [C, H, W] with the 1-D kernel `line`, reflect-101 border, computed
    over rows y0..y1 and columns x0..x1 only (the rest of the output is left unset: never read).
    Tap-outer loops over whole rows, so the compiler vectorises them; the border columns apart."""
    c_n, h, w = src.shape
    kernel = line.shape[0]
    half = kernel // 2
    out = np.empty_like(src)
    r0, r1 = max(0, y0 - half), min(h, y1 + half)  # rows the vertical pass reads (reflected rows lie inside)
    i0, i1 = max(x0, half), min(x1, w - half)  # columns whose taps all lie inside the row
    tmp = np.empty((h, w), dtype=np.float32)
    span = i1 - i0
    for c in range(c_n):
        for y in range(r0, r1):
            row = src[c, y]
            t_row = tmp[y]
            dst = t_row[i0:i1]  # slices indexed from 0: no negative-index checks, so the loops vectorise
            dst[:] = 0.0
            for t in range(kernel):
                wt = line[t]
                seg = row[i0 + t - half : i1 + t - half]
                for x in range(span):
                    dst[x] += wt * seg[x]
            for x in range(x0, i0):
                t_row[x] = _tap_sum(row, line, x, w)
            for x in range(max(i1, x0), x1):
                t_row[x] = _tap_sum(row, line, x, w)
        for y in range(y0, y1):
            dst = out[c, y, x0:x1]
            dst[:] = 0.0
            for t in range(kernel):
                wt = line[t]
                seg = tmp[_reflect(y + t - half, h), x0:x1]
                for x in range(x1 - x0):
                    dst[x] += wt * seg[x]
    return out


@njit(cache=True, nogil=True, boundscheck=False)
def _axis(u: float, k: int, flip: bool, start: int, length: int) -> tuple[int, int, float]:
    """One axis of the map: a position u in the flipped, resized crop (reflect-padded beyond 0..k-1)
    -> the bilinear taps (i0, i1) and weight of i1 in the read crop, inside the box start..start+length."""
    if u < 0.0:
        u = -u
    if u > k - 1:
        u = 2.0 * (k - 1) - u
    u = min(max(u, 0.0), k - 1.0)
    if flip:
        u = k - 1.0 - u
    s = max((u + 0.5) * (length / k) - 0.5, 0.0)  # torch's bilinear resize, align_corners=False
    i0 = min(int(s), length - 1)
    i1 = min(i0 + 1, length - 1)
    return start + i0, start + i1, s - i0


TILE_ROWS, TILE_COLS = 32, 64
"""Output tile of the warp: its map (48 KiB) and each channel's source footprint (~20 KiB rotated) stay in
a core's L1/L2 cache while every channel is sampled through it (row by row, a rotation strides across
the whole source plane for each channel: measured ~3x slower)."""


@njit(cache=True, nogil=True, boundscheck=False)
def _warp(
    src: np.ndarray,
    h: int,
    w: int,
    cos_r: float,
    sin_r: float,
    rotate: bool,
    hflip: bool,
    vflip: bool,
    top: int,
    left: int,
    bh: int,
    bw: int,
) -> np.ndarray:
    """One bilinear sample of src [C, H, W] per output pixel and channel through the composed map:
    rotation about the centre (torchvision's inverse matrix), reflect, flips, resized crop."""
    c_n = src.shape[0]
    if not rotate:
        return _resize(src, h, w, hflip, vflip, top, left, bh, bw)
    flat = src.reshape(c_n, h * w)
    out = np.empty((c_n, h, w), dtype=np.float32)
    cx, cy = (w - 1) * 0.5, (h - 1) * 0.5
    n = TILE_ROWS * TILE_COLS
    # per output pixel of the tile: flat offsets of the upper and lower tap pairs, the column step
    # (0 where the box's last column clamps it), the weights: 20 bytes, shared by every channel
    ia = np.empty(n, dtype=np.int32)
    ib = np.empty(n, dtype=np.int32)
    dx = np.empty(n, dtype=np.int32)
    wx = np.empty(n, dtype=np.float32)
    wy = np.empty(n, dtype=np.float32)
    for ty in range(0, h, TILE_ROWS):
        for tx in range(0, w, TILE_COLS):
            rows, cols = min(TILE_ROWS, h - ty), min(TILE_COLS, w - tx)
            for i in range(rows):
                yc = ty + i - cy
                for j in range(cols):
                    p = i * TILE_COLS + j
                    xc = tx + j - cx
                    u = cos_r * xc + sin_r * yc + cx
                    v = -sin_r * xc + cos_r * yc + cy
                    x0, x1, fx = _axis(u, w, hflip, left, bw)
                    y0, y1, fy = _axis(v, h, vflip, top, bh)
                    ia[p], ib[p], dx[p] = y0 * w + x0, y1 * w + x0, x1 - x0
                    wx[p], wy[p] = fx, fy
            for c in range(c_n):
                plane = flat[c]
                for i in range(rows):
                    o_row = out[c, ty + i, tx : tx + cols]
                    base = i * TILE_COLS
                    for j in range(cols):
                        p = base + j
                        pa, pb, step = ia[p], ib[p], dx[p]
                        a = plane[pa] + wx[p] * (plane[pa + step] - plane[pa])
                        b = plane[pb] + wx[p] * (plane[pb + step] - plane[pb])
                        o_row[j] = a + wy[p] * (b - a)
    return out


@njit(cache=True, nogil=True, boundscheck=False)
def _resize(
    src: np.ndarray, h: int, w: int, hflip: bool, vflip: bool, top: int, left: int, bh: int, bw: int
) -> np.ndarray:
    """The warp without a rotation is separable: the map of each column and of each row once, then
    two taps per row and two per column (the resized crop and flips, as torch's bilinear resize)."""
    c_n = src.shape[0]
    out = np.empty((c_n, h, w), dtype=np.float32)
    xa = np.empty(w, dtype=np.int64)
    xb = np.empty(w, dtype=np.int64)
    wx = np.empty(w, dtype=np.float32)
    for x in range(w):
        xa[x], xb[x], fx = _axis(float(x), w, hflip, left, bw)
        wx[x] = fx
    for c in range(c_n):
        for y in range(h):
            y0, y1, fy = _axis(float(y), h, vflip, top, bh)
            r_a, r_b = src[c, y0], src[c, y1]
            o_row = out[c, y]
            for x in range(w):
                a = r_a[xa[x]] + wx[x] * (r_a[xb[x]] - r_a[xa[x]])
                b = r_b[xa[x]] + wx[x] * (r_b[xb[x]] - r_b[xa[x]])
                o_row[x] = a + np.float32(fy) * (b - a)
    return out
