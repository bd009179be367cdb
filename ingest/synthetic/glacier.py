"""Glacier flow on the high ground of glaciated volcanoes: a non-volcanic signal annotators flag as
`glacier_fringes` (1 present, 2 strong) and never include in the deformation mask.

Ice on the top share of the land (above the `ice_quantile` elevation) slides downhill at a speed
that is largest in the middle of the ice and tapers to zero at its edge; the motion follows the
surface (horizontal downhill plus the matching drop, u_z = -|grad z| u_h) and is projected on the
line of sight like any displacement.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from hephaestus.ingest.synthetic import geometry

FLOW_SMOOTHING_PX = 4.0
STRONG_FRINGES = 3.0
"""Glacier fringes are annotated 2 (strong) from this many fringes of LOS motion."""


def ice_cover(dem: NDArray, land: NDArray, ice_quantile: float = 0.8) -> NDArray[np.float64]:
    """0..1 ice thickness proxy: 1 well inside the ice, tapering to 0 at its edge."""
    if not land.any():
        return np.zeros(dem.shape)
    ice = (dem >= np.quantile(dem[land], ice_quantile)) & land
    depth = ndimage.distance_transform_edt(ice)
    top = float(depth.max())
    return depth / top if top > 0 else depth


def glacier_los(
    cover: NDArray, grad_e: NDArray, grad_n: NDArray, look: tuple[NDArray, NDArray, NDArray], slide_m: float
) -> NDArray[np.float64]:
    """LOS displacement (m) of ice sliding `slide_m` at its thickest point over the pair's time span.

    Ice follows the smoothed surface (over FLOW_SMOOTHING_PX pixels), not the rock's roughness."""
    grad_e = ndimage.gaussian_filter(grad_e, FLOW_SMOOTHING_PX)
    grad_n = ndimage.gaussian_filter(grad_n, FLOW_SMOOTHING_PX)
    slope = np.hypot(grad_e, grad_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        down_e = np.where(slope > 0, -grad_e / slope, 0.0)
        down_n = np.where(slope > 0, -grad_n / slope, 0.0)
    u_h = slide_m * cover
    return geometry.los(u_h * down_e, u_h * down_n, -slope * u_h, look)


def glacier_code(d_los: NDArray, land: NDArray) -> int:
    """0 none, 1 present (at least one fringe), 2 strong (STRONG_FRINGES or more)."""
    n = geometry.fringes(d_los[land]) if land.any() else 0.0
    return 0 if n < 1.0 else (1 if n < STRONG_FRINGES else 2)
