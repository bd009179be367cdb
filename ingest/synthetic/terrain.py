"""Digital elevation model of a frame: a volcanic edifice with a summit crater on a tilted base, plus
fractal roughness; sea where the surface falls below zero (coastal volcanoes).

A coastal volcano stands on a landmass (island or coast) sized to the frame: a broad shield whose
shoreline is a circle of radius 0.35-0.8 frame widths around a centre offset from the summit, so that
most frames are mostly land (what a detector learns from) while many still show a stretch of sea.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hephaestus.ingest.synthetic.noise import power_law_field


@dataclass(frozen=True)
class Edifice:
    """Smooth part of the terrain; evaluated on the pixel grid and on the coarse ERA5 grid alike."""

    east: float  # summit position, metres from the frame reference point
    north: float
    summit_m: float  # summit height above the base
    radius_m: float  # e-folding radius of the cone
    base_m: float  # base elevation at the summit position (negative: island in the sea)
    tilt_east: float  # base slope (m/m)
    tilt_north: float
    crater_radius_m: float
    crater_depth_m: float
    shore_east: float = 0.0  # centre of the landmass (coastal volcanoes)
    shore_north: float = 0.0
    shore_radius_m: float = 0.0  # shoreline radius of the landmass; 0: no landmass (inland base)
    shore_slope: float = 0.0  # rise of the landmass per metre inland (m/m)

    def base(self, east: NDArray, north: NDArray) -> NDArray[np.float64]:
        """Elevation of the ground the edifice stands on: a tilted plane, or a landmass in the sea."""
        plane = self.tilt_east * (east - self.east) + self.tilt_north * (north - self.north)
        if self.shore_radius_m <= 0.0:
            return self.base_m + plane
        inland = self.shore_radius_m - np.hypot(east - self.shore_east, north - self.shore_north)
        return self.shore_slope * inland + plane

    def elevation(self, east: NDArray, north: NDArray) -> NDArray[np.float64]:
        r = np.hypot(east - self.east, north - self.north)
        cone = self.summit_m * np.exp(-((r / self.radius_m) ** 1.5))
        crater = self.crater_depth_m * np.exp(-((r / self.crater_radius_m) ** 2))
        return self.base(east, north) + cone - crater


def draw_edifice(
    rng: np.random.Generator, east: float, north: float, summit_asl: float, coastal: bool, extent_m: float
) -> Edifice:
    """An edifice whose summit stands near `summit_asl`; coastal ones sit on a landmass in the sea
    whose shoreline scales with the frame (`extent_m`, the frame's width in metres)."""
    base = float(rng.uniform(0.5, 0.9) * summit_asl)
    radius = float(np.clip(rng.uniform(0.15, 0.4) * extent_m, 1500.0, 20_000.0))
    tilt = rng.normal(0.0, 0.01, size=2)
    shore: dict[str, float] = {}
    if coastal:
        offset = float(rng.uniform(0.1, 0.4) * extent_m)
        towards = float(rng.uniform(0.0, 2.0 * np.pi))
        shore = {
            "shore_east": east + offset * float(np.sin(towards)),
            "shore_north": north + offset * float(np.cos(towards)),
            "shore_radius_m": float(rng.uniform(0.35, 0.8) * extent_m),
            "shore_slope": float(rng.uniform(0.03, 0.08)),
        }
        base = shore["shore_slope"] * (shore["shore_radius_m"] - offset)
        tilt = tilt * 0.3  # the landmass sets the slope of the ground
    return Edifice(
        east=east,
        north=north,
        summit_m=max(summit_asl - base, 200.0),
        radius_m=radius,
        base_m=base,
        tilt_east=float(tilt[0]),
        tilt_north=float(tilt[1]),
        crater_radius_m=radius * 0.08,
        crater_depth_m=float(rng.uniform(50.0, 250.0)),
        **shore,
    )


def dem(
    edifice: Edifice, east: NDArray, north: NDArray, rng: np.random.Generator, roughness_m: float = 40.0
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Elevation (m, 0 over sea, as LiCSAR hgt) and the water mask."""
    z = edifice.elevation(east, north) + roughness_m * power_law_field(east.shape, 3.0, rng)
    water = z <= 0.0
    return np.where(water, 0.0, z).astype(np.float32), water


def gradients(z: NDArray, pixel_m: tuple[float, float]) -> tuple[NDArray, NDArray]:
    """Terrain gradients dz/deast, dz/dnorth (m/m) on a north-up grid (row 0 north)."""
    dz_drow, dz_dcol = np.gradient(z.astype(np.float64))
    return dz_dcol / pixel_m[1], -dz_drow / pixel_m[0]
