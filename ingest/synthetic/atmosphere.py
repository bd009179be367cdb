"""Troposphere: the ERA5 fields written for each acquisition and the delays they cause in a pair.

Model (documented constants live in SynthConfig):
- Water vapour. Sea-level total column water vapour TCWV0 (kg m-2 = mm of precipitable water) is a
  climatology of latitude and season, times a log-normal day anomaly, with a small linear gradient
  across the box and a weak diurnal cycle. Above ground at elevation z the column is
  TCWV0 * exp(-z / H_w), H_w = `vapour_scale_height_m` (2 km). ERA5 `tcwv` = that at the cell's
  orography.
- Pressure `sp` = 101325 Pa * exp(-z / 8000 m) * (1 + weather); `vit` = T_mean * sp / g, the vertical
  integral of temperature of a column with mean temperature T_mean (~250 K), about 2.4e6 K kg m-2.
- Stratified delay. The zenith wet delay at a pixel is ZWD = Pi * PWV with Pi = `zwd_per_pwv` (6.2):
  ZWD(z) = Pi * 1e-3 * TCWV0 * exp(-z / H_w) metres; the slant delay is ZWD / cos(incidence) and the
  interferometric phase is 4 pi / lambda * (slant delay at secondary - at primary): 2.27 rad per cm of
  slant delay, 2.9 rad per cm of zenith delay at 39 deg incidence. For small z it is proportional to
  elevation times the TCWV difference of the two dates: -Pi * 1e-3 * dTCWV0 * z / H_w.
- Turbulent delay: a power-law random field with the two-regime tropospheric spectrum (|k|^-8/3 at
  wavelengths above the ~2 km thickness of the wet layer, |k|^-11/3 (3-D Kolmogorov) below it, so the
  screen is smooth from pixel to pixel) and a per-pair log-normal standard deviation around
  `turbulence_mm`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hephaestus.ingest.synthetic.geometry import phase_of_delay
from hephaestus.ingest.synthetic.noise import power_law_field

ERA5_STEP_DEG = 0.25
GRAVITY = 9.80665
SEA_LEVEL_PRESSURE_PA = 101325.0
PRESSURE_SCALE_HEIGHT_M = 8000.0
STRATIFIED_MIN_RAD = 1.5 * np.pi
"""A stratified term is annotated (atmospheric_fringes bit 1) when it spans 3/4 of a fringe or more."""
TURBULENT_MIN_STD_RAD = 0.6
"""A turbulent term is annotated (bit 2) when its phase std reaches this."""
TURBULENT_GIVEN_STRATIFIED = 0.56
TURBULENT_GIVEN_NOT_STRATIFIED = 0.88
"""Chance that a pair's turbulence is visible, given whether its stratified term is: the real codes
(0/1/2/3 = 7/16/56/20 %) show turbulence on 77 % of pairs but less often beside stratification
(20 / 36 %) than without it (56 / 64 %)."""


@dataclass(frozen=True)
class Era5Grid:
    """The 0.25 deg box of a frame's ERA5 files: latitude descending, longitude ascending."""

    latitude: NDArray[np.float64]
    longitude: NDArray[np.float64]

    @classmethod
    def covering(
        cls, lat_min: float, lat_max: float, lon_min: float, lon_max: float, margin: int = 1
    ) -> Era5Grid:
        s = ERA5_STEP_DEG
        lo_lat = (np.floor(lat_min / s) - margin) * s
        hi_lat = (np.ceil(lat_max / s) + margin) * s
        lo_lon = (np.floor(lon_min / s) - margin) * s
        hi_lon = (np.ceil(lon_max / s) + margin) * s
        lat = np.round(np.arange(hi_lat, lo_lat - s / 2, -s), 6)
        lon = np.round(np.arange(lo_lon, hi_lon + s / 2, s), 6)
        return cls(lat, lon)


@dataclass(frozen=True)
class Weather:
    """One acquisition day's troposphere over a frame (sea-level water vapour as a linear field)."""

    tcwv0: float  # sea-level TCWV at the reference point, kg m-2
    grad_lat: float  # relative change per degree
    grad_lon: float
    diurnal: float  # relative amplitude
    pressure_anomaly: float  # relative
    mean_temperature_k: float
    lat0: float
    lon0: float

    def tcwv_sea(self, lat: NDArray, lon: NDArray, hour: float) -> NDArray[np.float64]:
        cycle = 1.0 + self.diurnal * np.sin(2 * np.pi * (hour - 9.0) / 24.0)
        field = self.tcwv0 * (1.0 + self.grad_lat * (lat - self.lat0) + self.grad_lon * (lon - self.lon0))
        return np.maximum(field, 0.5) * cycle


def climatology_tcwv(lat: float, day_of_year: int) -> float:
    """Sea-level TCWV climatology (kg m-2): ~45 in the tropics, ~10 at high latitude, summer-wet."""
    base = 10.0 + 35.0 * np.cos(np.deg2rad(lat)) ** 4
    season = np.sign(lat) * np.cos(2 * np.pi * (day_of_year - 200) / 365.25) * min(abs(lat) / 45.0, 1.0)
    return float(base * (1.0 + 0.3 * season))


def draw_weather(rng: np.random.Generator, lat0: float, lon0: float, day_of_year: int) -> Weather:
    return Weather(
        tcwv0=climatology_tcwv(lat0, day_of_year) * float(np.exp(rng.normal(0.0, 0.2))),
        grad_lat=float(rng.normal(0.0, 0.15)),
        grad_lon=float(rng.normal(0.0, 0.15)),
        diurnal=float(rng.uniform(0.0, 0.05)),
        pressure_anomaly=float(rng.normal(0.0, 0.006)),
        mean_temperature_k=float(235.0 + 20.0 * np.cos(np.deg2rad(lat0)) + rng.normal(0.0, 3.0)),
        lat0=lat0,
        lon0=lon0,
    )


def era5_fields(
    weather: Weather, grid: Era5Grid, orography: NDArray, scale_height_m: float
) -> dict[str, NDArray[np.float32]]:
    """24 hourly steps of tcwv, sp, vit on the ERA5 grid (arrays [24, lat, lon])."""
    lat2, lon2 = np.meshgrid(grid.latitude, grid.longitude, indexing="ij")
    z = np.maximum(orography, 0.0)
    hours = np.arange(24, dtype=np.float64)
    tcwv = np.stack([weather.tcwv_sea(lat2, lon2, h) * np.exp(-z / scale_height_m) for h in hours])
    sp2 = SEA_LEVEL_PRESSURE_PA * np.exp(-z / PRESSURE_SCALE_HEIGHT_M) * (1.0 + weather.pressure_anomaly)
    tide = 1.0 + 0.001 * np.sin(2 * np.pi * hours / 12.0)  # semidiurnal pressure tide
    sp = sp2[None] * tide[:, None, None]
    vit = weather.mean_temperature_k * sp / GRAVITY
    return {"tcwv": tcwv.astype(np.float32), "sp": sp.astype(np.float32), "vit": vit.astype(np.float32)}


def zenith_wet_delay(
    weather: Weather,
    lat: NDArray,
    lon: NDArray,
    hour: float,
    elevation: NDArray,
    zwd_per_pwv: float,
    scale_height_m: float,
) -> NDArray[np.float64]:
    """Zenith wet delay (m) at each pixel's elevation."""
    pwv_m = 1e-3 * weather.tcwv_sea(lat, lon, hour) * np.exp(-np.maximum(elevation, 0.0) / scale_height_m)
    return zwd_per_pwv * pwv_m


def stratified_phase(zwd_primary: NDArray, zwd_secondary: NDArray, cos_incidence: NDArray) -> NDArray:
    """Phase (rad) of the change in stratified slant delay between the two acquisitions."""
    return phase_of_delay((zwd_secondary - zwd_primary) / cos_incidence)


def turbulent_phase(
    shape: tuple[int, int],
    std_m: float,
    beta: float,
    cos_incidence: NDArray,
    rng: np.random.Generator,
    beta_short: float | None = None,
    crossover_px: float | None = None,
) -> NDArray:
    """Phase (rad) of a turbulent slant-delay screen with zenith std `std_m` (spectrum: noise.power_law_field)."""
    screen = power_law_field(shape, beta, rng, beta_short=beta_short, crossover_px=crossover_px)
    return phase_of_delay(std_m * screen / cos_incidence)


def atmospheric_code(stratified: NDArray, turbulent: NDArray, land: NDArray) -> int:
    """Annotation code: 0 none, 1 stratified, 2 turbulent, 3 both, from the drawn terms over land."""
    if not land.any():
        return 0
    s = float(np.ptp(stratified[land])) >= STRATIFIED_MIN_RAD
    t = float(np.std(turbulent[land])) >= TURBULENT_MIN_STD_RAD
    return int(s) + 2 * int(t)


def settle_turbulence(turbulent: NDArray, land: NDArray, visible: bool, rng: np.random.Generator) -> NDArray:
    """The turbulent phase rescaled, when needed, to the drawn side of the annotation threshold
    (std 1.05-2 thresholds when visible, 0.2-0.9 when not); the field's shape is kept."""
    if not land.any():
        return turbulent
    std = float(np.std(turbulent[land]))
    if std <= 0.0 or (std >= TURBULENT_MIN_STD_RAD) == visible:
        return turbulent
    target = TURBULENT_MIN_STD_RAD * float(rng.uniform(1.05, 2.0) if visible else rng.uniform(0.2, 0.9))
    return turbulent * (target / std)
