"""The fixed state of a frame: grid, terrain, viewing geometry, calendar, weather and sources.

Also the run's seeding scheme: every random draw comes from `rng(seed, PURPOSE, item...)`, so that
a frame or a pair is the same whatever else the run contains or in which order it is drawn.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hephaestus.ingest.synthetic import atmosphere, coherence, deformation, frames, geometry, terrain
from hephaestus.ingest.synthetic.config import SynthConfig
from hephaestus.ingest.synthetic.noise import power_law_field
from hephaestus.ingest.synthetic.sources import SourceModel
from hephaestus.platform.schema import GRID_SPACING_DEG

# Purposes of the seeded generators (never reorder: they are part of the output's definition).
FRAME, ALLOC, PAIR, WEATHER, SOURCE, TERRAIN, EPISODE = range(7)


def rng(seed: int, *keys: int) -> np.random.Generator:
    """The generator for one purpose and item of a run."""
    return np.random.default_rng([seed, *keys])


@dataclass
class Frame:
    """Everything fixed per frame: grid, terrain, geometry, weather and its volcanic sources."""

    index: int
    fid: str
    volcano: frames.Volcano
    lat_max: float
    lon_min: float
    height: int
    width: int
    view: geometry.Viewing
    center_time_s: float
    east: NDArray
    north: NDArray
    lat: NDArray
    lon: NDArray
    dem: NDArray
    water: NDArray
    look: tuple[NDArray, NDArray, NDArray]
    veg: NDArray
    theta_local: NDArray
    grad_e: NDArray
    grad_n: NDArray
    era5: atmosphere.Era5Grid
    orography: NDArray
    acquisitions: list[dt.date]
    pairs: list[tuple[dt.date, dt.date]]
    volcanic: list[SourceModel]
    swath: NDArray | None = None  # inside the data footprint (None: the whole box)
    weather: dict[dt.date, atmosphere.Weather] = field(default_factory=dict)
    _unit: dict[int, NDArray] = field(default_factory=dict)

    @property
    def land(self) -> NDArray:
        """Pixels with data: ground inside the footprint (sea and the footprint's corners carry none)."""
        return ~self.water if self.swath is None else ~self.water & self.swath

    @property
    def hour(self) -> float:
        """ERA5 hour nearest to the acquisition."""
        return float(round(self.center_time_s / 3600.0) % 24)

    def unit_los(self, source: SourceModel, key: int, nu: float) -> NDArray:
        if key not in self._unit:
            self._unit[key] = geometry.los(*source.displacement(self.east, self.north, nu), self.look)
        return self._unit[key]


def build_frame(config: SynthConfig, index: int, taken: set[str]) -> Frame:
    """Frame `index` of a run: id, volcano, grid, DEM, geometry, calendar, pairs and sources."""
    frng = rng(config.seed, FRAME, index)
    fid = frames.frame_id(frng, taken)
    taken.add(fid)
    table = [v for v in frames.VOLCANOES if not config.volcanoes or v.name in config.volcanoes]
    # Distinct volcanoes while the table lasts, then repeats (a seeded shuffle of the table).
    order = rng(config.seed, FRAME, 10_000).permutation(len(table))
    volcano = table[int(order[index % len(table)])]
    h, w = config.height, config.width
    row0 = int(round(h * frng.uniform(0.35, 0.65)))
    col0 = int(round(w * frng.uniform(0.35, 0.65)))
    lat_max = (round(volcano.lat * 1000) + row0) / 1000.0
    lon_min = (round(volcano.lon * 1000) - col0) / 1000.0
    east, north, lat2, lon2 = grid(lat_max, lon_min, h, w, volcano.lat, volcano.lon)
    extent = min(h, w) * GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT
    trng = rng(config.seed, TERRAIN, index)
    edifice = terrain.draw_edifice(trng, 0.0, 0.0, volcano.summit_m, volcano.coastal, extent)
    dem, water = terrain.dem(edifice, east, north, trng)
    view = frames.viewing(fid, frng)
    fields = frame_fields(config, view, lat_max, lon_min, volcano, east, north, dem, edifice.elevation, trng)
    acq = frames.acquisitions(frng)
    pairs = frames.draw_pairs(acq, config.pairs, frng)
    srng = rng(config.seed, SOURCE, index)
    kinds = list(deformation.VOLCANIC_TYPES)
    p = np.array(list(deformation.VOLCANIC_TYPES.values()))
    volcanic = []
    for _ in range(2):  # the main source and a second one for two-source pairs
        kind = str(srng.choice(kinds, p=p / p.sum()))
        e = float(np.clip(srng.normal(0.0, 0.06 * extent), east.min() * 0.6, east.max() * 0.6))
        n = float(np.clip(srng.normal(0.0, 0.06 * extent), north.min() * 0.6, north.max() * 0.6))
        volcanic.append(deformation.volcanic_source(kind, srng, e, n, extent))
    return Frame(
        index=index,
        fid=fid,
        volcano=volcano,
        lat_max=lat_max,
        lon_min=lon_min,
        height=h,
        width=w,
        view=view,
        center_time_s=frames.center_time_seconds(fid, volcano.lon, frng),
        east=east,
        north=north,
        lat=lat2,
        lon=lon2,
        water=water,
        acquisitions=acq,
        pairs=pairs,
        volcanic=volcanic,
        **fields,
    )


def grid(
    lat_max: float, lon_min: float, h: int, w: int, lat0: float, lon0: float
) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """East, north (metres from (lat0, lon0)), latitude and longitude of every pixel centre."""
    lat = lat_max - (np.arange(h) + 0.5) * GRID_SPACING_DEG
    lon = lon_min + (np.arange(w) + 0.5) * GRID_SPACING_DEG
    lon2, lat2 = np.meshgrid(lon, lat)
    east, north = geometry.local_metres(lat2, lon2, lat0, lon0)
    return east, north, lat2, lon2


def frame_fields(
    config: SynthConfig,
    view: geometry.Viewing,
    lat_max: float,
    lon_min: float,
    volcano: frames.Volcano,
    east: NDArray,
    north: NDArray,
    dem: NDArray,
    elevation: Callable[[NDArray, NDArray], NDArray],
    trng: np.random.Generator,
) -> dict[str, object]:
    """What follows from the terrain and the orbit: look vectors, slopes, local incidence,
    vegetation, data footprint (zeroing the DEM outside it) and the ERA5 box with its orography
    (`elevation(east, north)`, the smooth terrain, sampled at the ERA5 grid points)."""
    h, w = dem.shape
    look = geometry.look_vectors(view, east, north)
    pixel_m = (
        GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT,
        GRID_SPACING_DEG * geometry.METRES_PER_DEG_LON_EQUATOR * math.cos(math.radians(volcano.lat)),
    )
    ge, gn = terrain.gradients(dem, pixel_m)
    theta = coherence.local_incidence_deg(ge, gn, look)
    veg = coherence.vegetation(dem, power_law_field((h, w), 3.0, trng))
    swath = frames.swath_footprint(h, w, view.heading_deg) if config.swath_footprint else None
    if swath is not None:
        dem = np.where(swath, dem, np.float32(0.0))  # LiCSAR hgt: 0 outside the footprint
    era5 = atmosphere.Era5Grid.covering(
        lat_max - h * GRID_SPACING_DEG, lat_max, lon_min, lon_min + w * GRID_SPACING_DEG
    )
    elat, elon = np.meshgrid(era5.latitude, era5.longitude, indexing="ij")
    oe, on = geometry.local_metres(elat, elon, volcano.lat, volcano.lon)
    return {
        "dem": dem,
        "look": look,
        "veg": veg,
        "theta_local": theta,
        "grad_e": ge,
        "grad_n": gn,
        "era5": era5,
        "orography": np.maximum(elevation(oe, on), 0.0),
        "swath": swath,
    }


def draw_weather(config: SynthConfig, frame: Frame, index: int) -> None:
    """The troposphere of every acquisition date the frame's pairs use."""
    dates = sorted({d for pair in frame.pairs for d in pair})
    for d in dates:
        wrng = rng(config.seed, WEATHER, index, d.toordinal())
        frame.weather[d] = atmosphere.draw_weather(
            wrng, frame.volcano.lat, frame.volcano.lon, d.timetuple().tm_yday
        )
