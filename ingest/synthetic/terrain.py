"""Digital elevation model of a frame: a volcanic edifice with a summit crater on a tilted base, plus
fractal roughness; sea where the surface falls below zero (coastal volcanoes)."""

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

    def elevation(self, east: NDArray, north: NDArray) -> NDArray[np.float64]:
        de, dn = east - self.east, north - self.north
        r = np.hypot(de, dn)
        cone = self.summit_m * np.exp(-((r / self.radius_m) ** 1.5))
        crater = self.crater_depth_m * np.exp(-((r / self.crater_radius_m) ** 2))
        return self.base_m + self.tilt_east * de + self.tilt_north * dn + cone - crater


def draw_edifice(
    rng: np.random.Generator, east: float, north: float, summit_asl: float, coastal: bool, extent_m: float
) -> Edifice:
    """An edifice whose summit stands near `summit_asl`; coastal ones sit on a base below sea level."""
    base = float(rng.uniform(-600.0, -100.0) if coastal else rng.uniform(0.2, 0.5) * summit_asl)
    radius = float(np.clip(rng.uniform(0.12, 0.3) * extent_m, 1500.0, 15_000.0))
    tilt = rng.normal(0.0, 0.01, size=2)
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
