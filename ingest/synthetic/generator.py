"""`generate(config, out_dir)`: write a run of synthetic source products in the real archives' formats.

OUT/licsar/<FRAME>/interferograms/<D1>_<D2>/<D1>_<D2>.geo.diff_pha.tif, .geo.cc.tif
OUT/licsar/<FRAME>/metadata/<FRAME>.geo.hgt.tif, .geo.E.tif, .geo.N.tif, .geo.U.tif, metadata.txt
OUT/era5/era5_<FRAME>_<YYYYMMDD>.nc
OUT/annotations/<uniqueID>.json

Each pair's phase is the sum of the drawn deformation, stratified and turbulent atmosphere, an
orbital ramp and coherence-driven noise, wrapped at the C-band wavelength; the labels come from the
same drawn terms (see labels.py). Every random draw comes from a generator seeded by (seed, purpose,
item), so the files are a pure function of the config.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hephaestus.ingest.synthetic import (
    artifacts,
    atmosphere,
    coherence,
    frames,
    geometry,
    labels,
    terrain,
    writers,
)
from hephaestus.ingest.synthetic.config import SynthConfig
from hephaestus.ingest.synthetic.noise import power_law_field
from hephaestus.ingest.synthetic.sources import SourceModel
from hephaestus.platform.schema import C_BAND_WAVELENGTH_M, GRID_SPACING_DEG

# Purposes of the seeded generators (never reorder: they are part of the output's definition).
_FRAME, _ALLOC, _PAIR, _WEATHER, _SOURCE, _TERRAIN = range(6)
FRINGE_M = C_BAND_WAVELENGTH_M / 2.0
VOLCANIC_TYPES = {"Sill": 0.45, "Dyke": 0.2, "Mogi": 0.22, "Spheroid": 0.13}
"""Share of source types among drawn volcanic sources (real: Sill 52 %, Dyke 21 %, Mogi 17 %...)."""
FRINGE_WEIGHTS = {1: 0.45, 2: 0.14, 3: 0.11}
"""Chance of 1, 2, 3 fringes; the rest (High) spreads evenly over 4..max_fringes."""


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


@dataclass(frozen=True)
class SynthManifest:
    """What a run wrote: frame ids, pair and positive counts, and every file (relative to OUT)."""

    frames: tuple[str, ...]
    pairs: int
    positives: int
    paths: tuple[str, ...]
    unique_ids: tuple[int, ...] = ()
    missing_products: tuple[int, ...] = ()
    corrupted: tuple[int, ...] = ()
    processing_errors: tuple[int, ...] = ()


@dataclass
class Frame:
    """Everything fixed per frame: grid, terrain, geometry, weather and its volcanic sources."""

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
    era5: atmosphere.Era5Grid
    orography: NDArray
    acquisitions: list[dt.date]
    pairs: list[tuple[dt.date, dt.date]]
    volcanic: list[SourceModel]
    weather: dict[dt.date, atmosphere.Weather] = field(default_factory=dict)
    _unit: dict[int, NDArray] = field(default_factory=dict)

    @property
    def land(self) -> NDArray:
        return ~self.water

    @property
    def hour(self) -> float:
        """ERA5 hour nearest to the acquisition."""
        return float(round(self.center_time_s / 3600.0) % 24)

    def unit_los(self, source: SourceModel, key: int, nu: float) -> NDArray:
        if key not in self._unit:
            self._unit[key] = geometry.los(*source.displacement(self.east, self.north, nu), self.look)
        return self._unit[key]


def _count(fraction: float, total: int, config: SynthConfig) -> int:
    if fraction <= 0.0:
        return 0
    return max(int(round(fraction * total)), 1 if total >= config.guarantee_min_pairs else 0)


def _volcanic_source(
    kind: str, rng: np.random.Generator, east: float, north: float, extent: float
) -> SourceModel:
    depth = float(np.clip(rng.uniform(0.08, 0.18) * extent, 500.0, 8000.0))
    if kind == "Mogi":
        return SourceModel("Mogi", "mogi", (("east", east), ("north", north), ("depth", depth)))
    if kind == "Spheroid":
        return SourceModel(
            "Spheroid",
            "spheroid",
            (
                ("east", east),
                ("north", north),
                ("depth", depth),
                ("semi_axis", depth * float(rng.uniform(0.3, 0.6))),
                ("plunge", float(rng.uniform(20.0, 80.0))),
                ("azimuth", float(rng.uniform(0.0, 360.0))),
            ),
        )
    if kind == "Sill":
        if rng.random() < 0.5:
            return SourceModel(
                "Sill",
                "penny",
                (
                    ("east", east),
                    ("north", north),
                    ("depth", depth),
                    ("radius", depth * float(rng.uniform(0.3, 0.8))),
                ),
            )
        return SourceModel(
            "Sill",
            "okada",
            (
                ("east", east),
                ("north", north),
                ("depth", depth),
                ("strike", float(rng.uniform(0.0, 360.0))),
                ("dip", float(rng.uniform(0.0, 10.0))),
                ("length", depth * float(rng.uniform(0.6, 1.2))),
                ("width", depth * float(rng.uniform(0.5, 1.0))),
            ),
        )
    # Dyke: a steep tensile rectangle whose top is shallow.
    dip = float(rng.uniform(70.0, 90.0))
    width = float(np.clip(rng.uniform(0.05, 0.12) * extent, 800.0, 6000.0))
    top = float(np.clip(rng.uniform(0.01, 0.04) * extent, 100.0, 2000.0))
    return SourceModel(
        "Dyke",
        "okada",
        (
            ("east", east),
            ("north", north),
            ("depth", top + width / 2.0 * math.sin(math.radians(dip))),
            ("strike", float(rng.uniform(0.0, 360.0))),
            ("dip", dip),
            ("length", float(np.clip(rng.uniform(0.1, 0.25) * extent, 1000.0, 15000.0))),
            ("width", width),
        ),
    )


def _earthquake(rng: np.random.Generator, east: float, north: float, extent: float) -> SourceModel:
    dip = float(rng.uniform(30.0, 90.0))
    width = float(np.clip(rng.uniform(0.05, 0.12) * extent, 1000.0, 15000.0))
    top = float(np.clip(rng.uniform(0.02, 0.06) * extent, 300.0, 5000.0))
    rake = float(rng.choice([-90.0, 90.0, 0.0, 180.0])) + float(rng.normal(0.0, 10.0))
    return SourceModel(
        "Earthquake",
        "okada",
        (
            ("east", east),
            ("north", north),
            ("depth", top + width / 2.0 * math.sin(math.radians(dip))),
            ("strike", float(rng.uniform(0.0, 360.0))),
            ("dip", dip),
            ("length", float(np.clip(rng.uniform(0.12, 0.3) * extent, 1500.0, 40000.0))),
            ("width", width),
            ("rake", rake),
        ),
    )


def _build_frame(config: SynthConfig, index: int, taken: set[str]) -> Frame:
    rng = _rng(config.seed, _FRAME, index)
    fid = frames.frame_id(rng, taken)
    taken.add(fid)
    table = [v for v in frames.VOLCANOES if not config.volcanoes or v.name in config.volcanoes]
    # Distinct volcanoes while the table lasts, then repeats (a seeded shuffle of the table).
    order = _rng(config.seed, _FRAME, 10_000).permutation(len(table))
    volcano = table[int(order[index % len(table)])]
    h, w = config.height, config.width
    row0 = int(round(h * rng.uniform(0.35, 0.65)))
    col0 = int(round(w * rng.uniform(0.35, 0.65)))
    lat_max = (round(volcano.lat * 1000) + row0) / 1000.0
    lon_min = (round(volcano.lon * 1000) - col0) / 1000.0
    lat = lat_max - (np.arange(h) + 0.5) * GRID_SPACING_DEG
    lon = lon_min + (np.arange(w) + 0.5) * GRID_SPACING_DEG
    lon2, lat2 = np.meshgrid(lon, lat)
    lat0, lon0 = volcano.lat, volcano.lon
    east, north = geometry.local_metres(lat2, lon2, lat0, lon0)
    extent = min(h, w) * GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT
    trng = _rng(config.seed, _TERRAIN, index)
    edifice = terrain.draw_edifice(trng, 0.0, 0.0, volcano.summit_m, volcano.coastal, extent)
    dem, water = terrain.dem(edifice, east, north, trng)
    view = frames.viewing(fid, rng)
    look = geometry.look_vectors(view, east, north)
    pixel_m = (
        GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT,
        GRID_SPACING_DEG * geometry.METRES_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0)),
    )
    ge, gn = terrain.gradients(dem, pixel_m)
    theta = coherence.local_incidence_deg(ge, gn, look)
    veg = coherence.vegetation(dem, power_law_field((h, w), 3.0, trng))
    era5 = atmosphere.Era5Grid.covering(
        lat_max - h * GRID_SPACING_DEG, lat_max, lon_min, lon_min + w * GRID_SPACING_DEG
    )
    elat, elon = np.meshgrid(era5.latitude, era5.longitude, indexing="ij")
    oe, on = geometry.local_metres(elat, elon, lat0, lon0)
    orography = np.maximum(edifice.elevation(oe, on), 0.0)
    acq = frames.acquisitions(rng)
    pairs = frames.draw_pairs(acq, config.pairs, rng)
    srng = _rng(config.seed, _SOURCE, index)
    kinds = list(VOLCANIC_TYPES)
    p = np.array(list(VOLCANIC_TYPES.values()))
    volcanic = []
    for _ in range(2):  # the main source and a second one for two-source pairs
        kind = str(srng.choice(kinds, p=p / p.sum()))
        e = float(np.clip(srng.normal(0.0, 0.06 * extent), east.min() * 0.6, east.max() * 0.6))
        n = float(np.clip(srng.normal(0.0, 0.06 * extent), north.min() * 0.6, north.max() * 0.6))
        volcanic.append(_volcanic_source(kind, srng, e, n, extent))
    return Frame(
        fid=fid,
        volcano=volcano,
        lat_max=lat_max,
        lon_min=lon_min,
        height=h,
        width=w,
        view=view,
        center_time_s=frames.center_time_seconds(fid, lon0, rng),
        east=east,
        north=north,
        lat=lat2,
        lon=lon2,
        dem=dem,
        water=water,
        look=look,
        veg=veg,
        theta_local=theta,
        era5=era5,
        orography=orography,
        acquisitions=acq,
        pairs=pairs,
        volcanic=volcanic,
    )


def _weather(config: SynthConfig, frame: Frame, index: int) -> None:
    dates = sorted({d for pair in frame.pairs for d in pair})
    for d in dates:
        rng = _rng(config.seed, _WEATHER, index, d.toordinal())
        frame.weather[d] = atmosphere.draw_weather(
            rng, frame.volcano.lat, frame.volcano.lon, d.timetuple().tm_yday
        )


def _target_fringes(rng: np.random.Generator, max_fringes: int) -> float:
    """A fringe count n + u, u in [0.25, 0.75] so the whole count is unambiguous."""
    weights = {k: v for k, v in FRINGE_WEIGHTS.items() if k <= max_fringes}
    high = list(range(4, max_fringes + 1))
    rest = 1.0 - sum(weights.values())
    for k in high:
        weights[k] = rest / len(high)
    ks = np.array(list(weights))
    ps = np.array(list(weights.values()))
    n = int(rng.choice(ks, p=ps / ps.sum()))
    return n + float(rng.uniform(0.25, 0.75))


def _draw_sources(
    config: SynthConfig, frame: Frame, rng: np.random.Generator, gamma: NDArray
) -> list[labels.DrawnSource]:
    """The sources of one positive pair, scaled to drawn fringe counts."""
    h, w = frame.height, frame.width
    extent = min(h, w) * GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT
    chosen: list[tuple[SourceModel, int, bool]] = []
    quake = rng.random() < config.earthquake_fraction
    if not quake or rng.random() < 0.4:
        inflation = rng.random() >= config.rebound_fraction
        chosen.append((frame.volcanic[0], 0, inflation))
        if rng.random() < config.multi_source_fraction:
            chosen.append((frame.volcanic[1], 1, inflation))
    if quake:
        e = float(rng.uniform(0.25, 0.75) * (frame.east.max() - frame.east.min()) + frame.east.min())
        n = float(rng.uniform(0.25, 0.75) * (frame.north.max() - frame.north.min()) + frame.north.min())
        chosen.append((_earthquake(rng, e, n, extent), -1, True))
    land = frame.land
    drawn = []
    for model, key, inflation in chosen:
        unit = (
            frame.unit_los(model, key, config.poisson_ratio)
            if key >= 0
            else geometry.los(*model.displacement(frame.east, frame.north, config.poisson_ratio), frame.look)
        )
        span = float(np.ptp(unit[land])) if land.any() else 0.0
        if span <= 0.0:
            continue
        strength = _target_fringes(rng, config.max_fringes) * FRINGE_M / span
        d_los = unit * strength * (1.0 if inflation else -1.0)
        src = labels.DrawnSource(model.activity_type, d_los, inflation)
        src.fringes = geometry.fringes(d_los[land])
        drawn.append(src)
    # Visible where the ground is coherent enough for fringes to show (see labels.VISIBLE_GAMMA).
    labels.assign_masks(drawn, land & (gamma >= labels.VISIBLE_GAMMA), config.mask_fringe_fraction)
    return [s for s in drawn if s.mask.any()]


@dataclass
class PlannedPair:
    """A pair of the run and the categories allocated to it before rendering."""

    uid: int
    primary: dt.date
    secondary: dt.date
    positive: bool = False
    missing: bool = False
    corrupted: bool = False
    processing_error: bool = False


def _allocate(config: SynthConfig, pairs: list[PlannedPair]) -> None:
    rng = _rng(config.seed, _ALLOC)
    order = [pairs[i] for i in rng.permutation(len(pairs))]
    n = len(pairs)
    start = 0
    for attr, frac in (
        ("missing", config.missing_product_fraction),
        ("corrupted", config.corrupted_fraction),
        ("processing_error", config.processing_error_fraction),
        ("positive", config.positive_fraction),
    ):
        k = min(_count(frac, n, config), n - start)
        for p in order[start : start + k]:
            setattr(p, attr, True)
        start += k


def _pair_coherence_factor(rng: np.random.Generator, positive: bool) -> float:
    """Scene-wide decorrelation of a pair (wet snow, flooding, soil moisture): mostly mild, sometimes
    strong (about 17 % of real pairs are flagged low coherence, 1 % no information). A pair chosen to
    show deformation is never drawn fully decorrelated (it would show nothing)."""
    r = rng.random()
    if r < 0.01 and not positive:
        return float(rng.uniform(0.02, 0.1))
    if r < 0.2:
        return float(rng.uniform(0.15, 0.5))
    return float(np.clip(np.exp(rng.normal(0.0, 0.1)), 0.0, 1.0))


def _where_turbulent(turb: NDArray, land: NDArray) -> str:
    if float(np.std(turb[land])) >= 1.5:
        return "wider area"
    strong = (np.abs(turb) >= np.percentile(np.abs(turb[land]), 90)) & land
    return labels.location_words(strong)


@dataclass
class PairRender:
    """Every drawn term of a pair (phases in radians, unwrapped unless said) and its annotation."""

    record: dict[str, object]
    sources: list[labels.DrawnSource]
    deformation_los: NDArray  # metres, positive towards the satellite
    stratified: NDArray
    turbulent: NDArray
    ramp: NDArray
    noise: NDArray
    gamma: NDArray  # true coherence
    phase: NDArray[np.float32]  # the written wrapped phase (0 = no data)
    coherence: NDArray  # estimated coherence 0..1 as written (before scaling to 0..255)
    older_coherence: bool


def render_pair(config: SynthConfig, frame: Frame, pair: PlannedPair) -> PairRender:
    """Draw one pair: the sum of its physical terms, wrapped, plus the labels those terms imply."""
    rng = _rng(config.seed, _PAIR, pair.uid)
    land = frame.land
    shape = (frame.height, frame.width)
    cos_inc = frame.look[2]
    dt_days = (pair.secondary - pair.primary).days
    pair_factor = _pair_coherence_factor(rng, pair.positive)
    gamma = coherence.true_coherence(
        dt_days, frame.veg, frame.theta_local, frame.water, pair_factor, config.decorrelation_days
    )
    sources = _draw_sources(config, frame, rng, gamma) if pair.positive else []
    deformation = sum((s.d_los for s in sources), np.zeros(shape))
    hour = frame.hour
    zwd = [
        atmosphere.zenith_wet_delay(
            frame.weather[d],
            frame.lat,
            frame.lon,
            hour,
            frame.dem,
            config.zwd_per_pwv,
            config.vapour_scale_height_m,
        )
        for d in (pair.primary, pair.secondary)
    ]
    strat = atmosphere.stratified_phase(zwd[0], zwd[1], cos_inc)
    turb_std = config.turbulence_mm * 1e-3 * float(np.exp(rng.normal(0.0, 0.6)))
    if rng.random() < 0.07:
        turb_std *= 0.15  # a calm day
    turb = atmosphere.turbulent_phase(shape, turb_std, config.turbulence_beta, cos_inc, rng)
    orbital = int(rng.random() < config.orbital_fraction)
    ramp_fringes = rng.uniform(1.0, 3.0) if orbital else rng.uniform(0.0, 0.2)
    az = rng.uniform(0.0, 2 * np.pi)
    ramp_axis = frame.east * np.sin(az) + frame.north * np.cos(az)
    ramp = 2 * np.pi * ramp_fringes * (ramp_axis - ramp_axis.min()) / max(float(np.ptp(ramp_axis)), 1.0)
    noise = coherence.phase_noise(gamma, config.looks, rng)
    unwrapped = geometry.phase_of_los(deformation) + strat + turb + ramp + noise
    proc_code, notes = 0, []
    if pair.processing_error:
        proc_code, note = artifacts.processing_error(unwrapped, rng)
        notes.append(note)
    pha = geometry.wrap(unwrapped).astype(np.float32)
    pha[pha == 0.0] = np.float32(1e-6)  # 0 means no data in LiCSAR products
    pha[~land] = 0.0
    coh = coherence.estimated_coherence(gamma, config.looks, rng)
    coh[~land] = 0.0
    if pair.corrupted:
        notes.append(artifacts.corrupt(pha, coh, rng))
    atm = atmosphere.atmospheric_code(strat, turb, land)
    low, no_info = coherence.low_coherence_flags(gamma, land)
    high_ground = (frame.dem >= np.percentile(frame.dem[land], 75)) & land if land.any() else land
    caption = " ".join(
        x
        for x in (
            labels.noise_sentences(
                atm,
                labels.location_words(high_ground),
                _where_turbulent(turb, land) if land.any() else "central",
                orbital,
                low,
            ),
            labels.deformation_sentences(sources),
            *notes,
        )
        if x
    )
    d1, d2 = pair.primary.strftime("%Y%m%d"), pair.secondary.strftime("%Y%m%d")
    record = labels.annotation(
        unique_id=pair.uid,
        frame_id=frame.fid,
        primary=d1,
        secondary=d2,
        sources=sources,
        atmospheric=atm,
        orbital=orbital,
        low_coherence=low,
        no_info=no_info,
        corrupted=int(pair.corrupted),
        processing_error=proc_code,
        caption=caption,
    )
    older = bool(rng.random() < config.older_coherence_fraction)
    return PairRender(record, sources, deformation, strat, turb, ramp, noise, gamma, pha, coh, older)


def _write_pair(frame: Frame, pair: PlannedPair, r: PairRender, out: Path) -> list[str]:
    written: list[str] = []
    d1, d2 = pair.primary.strftime("%Y%m%d"), pair.secondary.strftime("%Y%m%d")
    if not pair.missing:
        folder = Path("licsar") / frame.fid / "interferograms" / f"{d1}_{d2}"
        if r.older_coherence:
            cc = r.coherence.astype(np.float32)
        else:
            # every pixel with phase has a coherence of at least 1/255; no data is 0 in both
            cc = np.where(r.phase != 0, np.clip(np.rint(r.coherence * 255), 1, 255), 0).astype(np.uint8)
        for suffix, data in ((".geo.diff_pha.tif", r.phase), (".geo.cc.tif", cc)):
            rel = folder / f"{d1}_{d2}{suffix}"
            writers.write_geotiff(out / rel, data, frame.lat_max, frame.lon_min, nodata=0)
            written.append(rel.as_posix())
    rel = Path("annotations") / f"{pair.uid}.json"
    writers.write_json(out / rel, r.record)
    written.append(rel.as_posix())
    return written


def _write_frame(config: SynthConfig, frame: Frame, out: Path) -> list[str]:
    written = []
    meta = Path("licsar") / frame.fid / "metadata"
    look = [c.astype(np.float32) for c in frame.look]
    for suffix, data, nodata in (
        (".geo.hgt.tif", frame.dem, -32768.0),
        (".geo.E.tif", look[0], 0.0),
        (".geo.N.tif", look[1], 0.0),
        (".geo.U.tif", look[2], 0.0),
    ):
        rel = meta / f"{frame.fid}{suffix}"
        writers.write_geotiff(out / rel, data, frame.lat_max, frame.lon_min, nodata=nodata)
        written.append(rel.as_posix())
    t = frame.center_time_s
    hh, mm, ss = int(t // 3600), int(t % 3600 // 60), t % 60
    rel = meta / "metadata.txt"
    writers.write_metadata(
        out / rel,
        {
            "master": frame.acquisitions[0].strftime("%Y%m%d"),
            "center_time": f"{hh:02d}:{mm:02d}:{ss:09.6f}",
            "heading": f"{frame.view.heading_deg:.4f}",
            "avg_incidence_angle": f"{frame.view.incidence_deg:.4f}",
            "centre_lat": f"{frame.lat_max - frame.height * GRID_SPACING_DEG / 2:.4f}",
            "centre_lon": f"{frame.lon_min + frame.width * GRID_SPACING_DEG / 2:.4f}",
            "avg_height": f"{float(frame.dem.mean()):.1f}",
            "volcano": frame.volcano.name,
        },
    )
    written.append(rel.as_posix())
    for d, weather in sorted(frame.weather.items()):
        fields = atmosphere.era5_fields(weather, frame.era5, frame.orography, config.vapour_scale_height_m)
        times = np.datetime64(d.isoformat(), "h") + np.arange(24).astype("timedelta64[h]")
        rel = Path("era5") / f"era5_{frame.fid}_{d.strftime('%Y%m%d')}.nc"
        writers.write_era5(out / rel, times, frame.era5.latitude, frame.era5.longitude, fields)
        written.append(rel.as_posix())
    return written


@dataclass(frozen=True)
class Plan:
    """The frames of a run and its pairs in uniqueID order, categories allocated."""

    frames: list[Frame]
    pairs: list[tuple[Frame, PlannedPair]]


def plan(config: SynthConfig) -> Plan:
    """Frames, weather, pairs and their categories: everything decided before any pixel is drawn."""
    taken: set[str] = set()
    built = [_build_frame(config, i, taken) for i in range(config.frames)]
    all_pairs: list[tuple[Frame, PlannedPair]] = []
    uid = 1
    for i, frame in enumerate(built):
        _weather(config, frame, i)
        for p, s in frame.pairs:
            all_pairs.append((frame, PlannedPair(uid, p, s)))
            uid += 1
    _allocate(config, [p for _, p in all_pairs])
    return Plan(built, all_pairs)


def generate(
    config: SynthConfig, out_dir: str | Path, progress: Callable[[int, int], None] | None = None
) -> SynthManifest:
    """Write a synthetic source archive under `out_dir` (a local folder, new or empty)."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: output folder is not empty; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    run = plan(config)
    paths: list[str] = []
    for frame in run.frames:
        paths += _write_frame(config, frame, out)
    positives = 0
    total = len(run.pairs)
    for done, (frame, pair) in enumerate(run.pairs, start=1):
        rendered = render_pair(config, frame, pair)
        positives += rendered.record["label"] != ["Non_Deformation"]
        paths += _write_pair(frame, pair, rendered, out)
        if progress is not None:
            progress(done, total)
    pairs = [p for _, p in run.pairs]
    return SynthManifest(
        frames=tuple(f.fid for f in run.frames),
        pairs=total,
        positives=positives,
        paths=tuple(sorted(paths)),
        unique_ids=tuple(p.uid for p in pairs),
        missing_products=tuple(p.uid for p in pairs if p.missing),
        corrupted=tuple(p.uid for p in pairs if p.corrupted),
        processing_errors=tuple(p.uid for p in pairs if p.processing_error),
    )
