"""From a predicted mask to what an alert says: deformed area, outline in lon/lat, fringe count, volcano.

Areas are exact on the mean sphere for the cube's lat/lon cells (R^2 * dlon * (sin lat_top - sin
lat_bottom)), so a 0.001 deg pixel is ~0.0124 km2 at the equator and half that at 60 deg. The fringe
count is the largest unwrapped phase range along any row or column run of the region, in cycles: an
annotator counts the fringes crossed from the rim of a pattern to its centre.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import rasterio.features
from scipy import ndimage

from hephaestus.platform.annotation import intensity_of_fringes
from hephaestus.platform.volcanoes import EARTH_RADIUS_KM
from hephaestus.train.predict import grid_transform


def _spacing(values: np.ndarray, default: float) -> float:
    return float(abs(values[1] - values[0])) if values.size > 1 else default


def row_cell_area_km2(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Area (km2) of one pixel of each row of a lat/lon grid (pixel-centre coordinates, degrees)."""
    dlat = _spacing(lat, 0.001)
    dlon = math.radians(_spacing(lon, 0.001))
    top = np.radians(np.clip(lat + dlat / 2, -90, 90))
    bottom = np.radians(np.clip(lat - dlat / 2, -90, 90))
    return EARTH_RADIUS_KM**2 * dlon * np.abs(np.sin(top) - np.sin(bottom))


def deformed_area_km2(mask: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> float:
    """Area (km2) of the True pixels of a [lat, lon] mask."""
    return float(np.sum(mask.sum(axis=1) * row_cell_area_km2(lat, lon)))


def mask_polygon(mask: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> dict | None:
    """GeoJSON geometry (Polygon, or MultiPolygon for several regions) of the mask's outline in lon/lat
    (pixel corners; holes kept); None for an empty mask."""
    if not mask.any():
        return None
    data = mask.astype(np.uint8)
    rings = [
        geom["coordinates"]
        for geom, value in rasterio.features.shapes(
            data, mask=mask.astype(bool), transform=grid_transform(lat, lon), connectivity=8
        )
        if value == 1
    ]
    rings = [[[[round(x, 7), round(y, 7)] for x, y in ring] for ring in poly] for poly in rings]
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": rings[0]}
    return {"type": "MultiPolygon", "coordinates": rings}


def _runs(line: np.ndarray) -> list[slice]:
    """Slices of the consecutive True runs of a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], line.astype(np.int8), [0]])))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def fringe_count(phase: np.ndarray, mask: np.ndarray) -> int:
    """Whole phase cycles (2 pi) across the region: the largest unwrapped range along a row or column run.

    The wrapped phase is first smoothed as a complex field over 3 x 3 pixels (speckle would otherwise
    unwrap into spurious cycles); no-data pixels (0 or NaN, as LiCSAR writes them) are left out.
    """
    valid = mask & np.isfinite(phase) & (phase != 0)
    if valid.sum() < 2:
        return 0
    z = np.where(valid, np.exp(1j * np.nan_to_num(phase)), 0)
    smooth = ndimage.uniform_filter(z.real, 3) + 1j * ndimage.uniform_filter(z.imag, 3)
    phi = np.angle(smooth)
    best = 0.0
    for grid, keep in ((phi, valid), (phi.T, valid.T)):
        for values, line in zip(grid, keep, strict=True):
            for run in _runs(line):
                if run.stop - run.start >= 2:
                    best = max(best, float(np.ptp(np.unwrap(values[run]))))
    return int(round(best / (2 * math.pi)))


@dataclass(frozen=True)
class Detection:
    """What an alert reports about the predicted region of one pair."""

    area_km2: float
    polygon: str | None  # GeoJSON geometry text
    fringes: int
    intensity: str
    centroid: tuple[float, float] | None  # (lat, lon) of the region


def describe(mask: np.ndarray, phase: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> Detection:
    """Area, outline, fringe count, intensity and centroid of a predicted mask over a pair's phase."""
    area = deformed_area_km2(mask, lat, lon)
    geometry = mask_polygon(mask, lat, lon)
    fringes = fringe_count(phase, mask)
    centroid = None
    if mask.any():
        rows, cols = np.nonzero(mask)
        centroid = (float(lat[rows].mean()), float(lon[cols].mean()))
    return Detection(
        area_km2=area,
        polygon=json.dumps(geometry, separators=(",", ":")) if geometry else None,
        fringes=fringes,
        intensity=intensity_of_fringes(fringes),
        centroid=centroid,
    )
