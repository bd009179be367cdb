"""Sentinel-1 viewing geometry: line-of-sight unit vectors, LOS projection and C-band phase wrapping.

Sign convention (LiCSAR/LiCSBAS): the LOS unit vector points from the ground to the satellite, a
positive LOS displacement is motion towards the satellite, and the interferometric phase is
phase = -4 pi / lambda * d_LOS (+ 4 pi / lambda * extra path delay), so that one fringe (2 pi) is
lambda / 2 = 2.77 cm of LOS motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hephaestus.platform.schema import C_BAND_WAVELENGTH_M

METRES_PER_DEG_LAT = 110_574.0
METRES_PER_DEG_LON_EQUATOR = 111_320.0
INCIDENCE_GRADIENT_DEG_PER_KM = 17.0 / 250.0
"""Sentinel-1 IW: incidence grows from about 29 to 46 deg across a 250 km swath."""


@dataclass(frozen=True)
class Viewing:
    """Orbit pass geometry of a frame."""

    heading_deg: float  # flight direction, clockwise from north (ascending ~ -12, descending ~ 192)
    incidence_deg: float  # at the frame centre

    @property
    def look_azimuth_deg(self) -> float:
        """Azimuth of the ground-to-satellite direction (Sentinel-1 looks right)."""
        return self.heading_deg - 90.0


def local_metres(lat: NDArray, lon: NDArray, lat0: float, lon0: float) -> tuple[NDArray, NDArray]:
    """East/north metres of (lat, lon) from (lat0, lon0): a local tangent plane, fine for < 100 km."""
    east = (lon - lon0) * METRES_PER_DEG_LON_EQUATOR * np.cos(np.deg2rad(lat0))
    north = (lat - lat0) * METRES_PER_DEG_LAT
    return east, north


def look_vectors(view: Viewing, east: NDArray, north: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """Ground-to-satellite unit vector (E, N, U) per pixel; incidence grows away from the satellite."""
    az = np.deg2rad(view.look_azimuth_deg)
    # Distance along the ground-to-satellite direction: negative = farther from the satellite.
    towards = east * np.sin(az) + north * np.cos(az)
    inc = np.deg2rad(view.incidence_deg - INCIDENCE_GRADIENT_DEG_PER_KM * towards / 1000.0)
    return np.sin(inc) * np.sin(az), np.sin(inc) * np.cos(az), np.cos(inc)


def los(ue: NDArray, un: NDArray, uz: NDArray, look: tuple[NDArray, NDArray, NDArray]) -> NDArray:
    """LOS displacement (positive towards the satellite)."""
    return ue * look[0] + un * look[1] + uz * look[2]


def phase_of_los(d_los: NDArray, wavelength: float = C_BAND_WAVELENGTH_M) -> NDArray:
    """Unwrapped interferometric phase (rad) of a LOS displacement (m)."""
    return -4.0 * np.pi / wavelength * d_los


def phase_of_delay(delay: NDArray, wavelength: float = C_BAND_WAVELENGTH_M) -> NDArray:
    """Unwrapped phase (rad) of an extra slant path delay (m): a longer path reads like motion away."""
    return 4.0 * np.pi / wavelength * delay


def wrap(phase: NDArray) -> NDArray:
    """Wrap to (-pi, pi]."""
    return np.angle(np.exp(1j * phase))


def fringes(d_los: NDArray, wavelength: float = C_BAND_WAVELENGTH_M) -> float:
    """Fringe count of a LOS field: its peak-to-peak LOS range in half wavelengths."""
    if d_los.size == 0:
        return 0.0
    return float((np.nanmax(d_los) - np.nanmin(d_los)) / (wavelength / 2.0))
