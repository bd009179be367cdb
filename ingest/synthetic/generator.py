"""`generate(config, out_dir)`: write a run of synthetic source products in the real archives' formats.

OUT/licsar/<FRAME>/interferograms/<D1>_<D2>/<D1>_<D2>.geo.diff_pha.tif, .geo.cc.tif
OUT/licsar/<FRAME>/metadata/<FRAME>.geo.hgt.tif, .geo.E.tif, .geo.N.tif, .geo.U.tif, metadata.txt
OUT/era5/era5_<FRAME>_<YYYYMMDD>.nc
OUT/annotations/<uniqueID>.json

Each pair's phase is the sum of the drawn deformation (deformation.py, sources.py), stratified and
turbulent atmosphere driven by the ERA5 fields written beside it (atmosphere.py), an orbital ramp and
coherence-driven noise (coherence.py), wrapped at the C-band wavelength (geometry.py); the labels
come from the same drawn terms (labels.py). Categories are allocated by count over the run:
missing products, corrupted products, processing errors, then positives by primary-date group (an
unrest episode), so that positives cluster in the time series as in the real data. Every random
draw comes from a generator seeded by (seed, purpose, item) (scene.rng), so the files are a pure
function of the config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hephaestus.ingest.synthetic import (
    artifacts,
    atmosphere,
    coherence,
    deformation,
    geometry,
    glacier,
    labels,
    scene,
    writers,
)
from hephaestus.ingest.synthetic.config import SynthConfig
from hephaestus.platform.errors import InputError
from hephaestus.platform.schema import GRID_SPACING_DEG


class OutputNotEmptyError(InputError, FileExistsError):
    """The output folder of `hmc synth` already holds files (synth never overwrites)."""


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

    @classmethod
    def of(
        cls, frames: Sequence[scene.Frame], pairs: Sequence[PlannedPair], positives: int, paths: Iterable[str]
    ) -> SynthManifest:
        """The manifest of `pairs` written under OUT (the one-shot run and each release of the feed)."""
        return cls(
            frames=tuple(f.fid for f in frames),
            pairs=len(pairs),
            positives=positives,
            paths=tuple(sorted(paths)),
            unique_ids=tuple(p.uid for p in pairs),
            missing_products=tuple(p.uid for p in pairs if p.missing),
            corrupted=tuple(p.uid for p in pairs if p.corrupted),
            processing_errors=tuple(p.uid for p in pairs if p.processing_error),
        )


def _count(fraction: float, total: int, config: SynthConfig) -> int:
    if fraction <= 0.0:
        return 0
    return max(int(round(fraction * total)), 1 if total >= config.guarantee_min_pairs else 0)


@dataclass(frozen=True)
class Directive:
    """What a real annotation prescribes for a pair of the twin: its record (written as it is), the
    sources fitted inside its polygons, and the codes the drawn noise terms must agree with."""

    record: dict[str, object]
    sources: list[labels.DrawnSource]
    atmospheric: int
    orbital: int
    glacier: int
    low_coherence: int
    no_info: int
    processing_error: int


@dataclass
class PlannedPair:
    """A pair of the run and the categories allocated to it before rendering."""

    uid: int
    frame_index: int
    primary: dt.date
    secondary: dt.date
    positive: bool = False
    shortest_days: int = 0  # shortest positive pair of its primary-date group (deformation rate)
    missing: bool = False
    corrupted: bool = False
    processing_error: bool = False
    directive: Directive | None = None


def _allocate(config: SynthConfig, pairs: list[PlannedPair]) -> None:
    """Product categories by count over the whole run; positives by primary-date group (an unrest
    episode shows in all pairs of a group, or in one of them), so positives cluster in time series."""
    rng = scene.rng(config.seed, scene.ALLOC)
    order = [pairs[i] for i in rng.permutation(len(pairs))]
    n = len(pairs)
    start = 0
    for attr, frac in (
        ("missing", config.missing_product_fraction),
        ("corrupted", config.corrupted_fraction),
        ("processing_error", config.processing_error_fraction),
    ):
        k = min(_count(frac, n, config), n - start)
        for p in order[start : start + k]:
            setattr(p, attr, True)
        start += k
    groups: dict[tuple[int, dt.date], list[PlannedPair]] = {}
    for p in order[start:]:
        groups.setdefault((p.frame_index, p.primary), []).append(p)
    keys = sorted(groups)
    wanted = min(_count(config.positive_fraction, n, config), n - start)
    chosen = 0
    for i in rng.permutation(len(keys)):
        if chosen >= wanted:
            break
        members = sorted(groups[keys[int(i)]], key=lambda p: p.secondary)
        if rng.random() >= config.positive_series_fraction:
            members = [members[int(rng.integers(len(members)))]]
        members = members[: wanted - chosen]
        shortest = min((p.secondary - p.primary).days for p in members)
        for p in members:
            p.positive = True
            p.shortest_days = shortest
        chosen += len(members)


def _pair_coherence_factor(rng: np.random.Generator, positive: bool) -> float:
    """Scene-wide decorrelation of a pair (wet snow, flooding, soil moisture): mostly mild, sometimes
    strong (about 17 % of real pairs are flagged low coherence, 1 % no information). A pair chosen to
    show deformation is never drawn fully decorrelated (it would show nothing)."""
    r = rng.random()
    if r < 0.01 and not positive:
        return float(rng.uniform(0.02, 0.1))
    if r < 0.2 and not positive:
        return float(rng.uniform(0.15, 0.5))
    return float(np.clip(np.exp(rng.normal(0.0, 0.1)), 0.0, 1.0))


def _directed_coherence_factor(rng: np.random.Generator, d: Directive) -> float:
    """The pair factor a twin pair's flags call for: no information, low coherence, or ordinary."""
    if d.no_info:
        return float(rng.uniform(0.02, 0.08))
    if d.low_coherence:
        return float(rng.uniform(0.15, 0.4))
    return float(np.clip(np.exp(rng.normal(0.0, 0.1)), 0.0, 1.0))


def _settle_stratified(strat: NDArray, land: NDArray, visible: bool, rng: np.random.Generator) -> NDArray:
    """A twin pair's stratified term on the annotated side of the threshold: the ERA5 water vapour
    drives its shape, a pair factor (the vertical structure a column value misses) its size."""
    if not land.any():
        return strat
    span = float(np.ptp(strat[land]))
    if span <= 0.0 or (span >= atmosphere.STRATIFIED_MIN_RAD) == visible:
        return strat
    target = atmosphere.STRATIFIED_MIN_RAD * float(
        rng.uniform(1.05, 2.0) if visible else rng.uniform(0.2, 0.9)
    )
    return strat * (target / span)


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
    glacier: NDArray  # LOS metres of ice flow (zeros unless the frame is glaciated)


def _unrest_days(config: SynthConfig, frame: scene.Frame, pair: PlannedPair) -> int:
    """Days of the scenario's inflation a pair spans (0: none, and always 0 for a twin pair, whose
    deformation the real annotation prescribes)."""
    unrest = config.unrest
    if pair.directive is None and unrest is not None and unrest.frame in (None, frame.index):
        return deformation.unrest_days(unrest.start, pair.primary, pair.secondary)
    return 0


def _pair_gamma(
    config: SynthConfig, frame: scene.Frame, pair: PlannedPair, rng: np.random.Generator, deforming: bool
) -> NDArray:
    """The pair's true coherence. The ordinary pair factor is always drawn (a twin pair then draws its
    directed one too), so the random stream is the same whatever the directive says."""
    pair_factor = _pair_coherence_factor(rng, deforming)
    if pair.directive is not None:
        pair_factor = _directed_coherence_factor(rng, pair.directive)
    dt_days = (pair.secondary - pair.primary).days
    return coherence.true_coherence(
        dt_days, frame.veg, frame.theta_local, ~frame.land, pair_factor, config.decorrelation_days
    )


def _pair_sources(
    config: SynthConfig, frame: scene.Frame, pair: PlannedPair, gamma: NDArray, days: int
) -> list[labels.DrawnSource]:
    """The pair's deformation sources: the directive's, or drawn from the episode's own generator (so
    every pair of an unrest episode draws the same sources), plus the scenario's inflation."""
    if pair.directive is not None:
        sources = pair.directive.sources
    elif pair.positive:
        episode = scene.rng(config.seed, scene.EPISODE, frame.index, pair.primary.toordinal())
        dt_days = (pair.secondary - pair.primary).days
        sources = deformation.draw_sources(config, frame, episode, gamma, dt_days, pair.shortest_days)
    else:
        sources = []
    onset = deformation.unrest_source(config, frame, days)
    if onset is not None:  # the scenario's inflation adds to whatever the pair drew
        visible = frame.land & (gamma >= labels.VISIBLE_GAMMA)
        sources = labels.assign_masks([*sources, onset], visible, config.mask_fringe_fraction)
    return sources


def _stratified_term(config: SynthConfig, frame: scene.Frame, pair: PlannedPair) -> NDArray:
    """The stratified phase from the ERA5 weather of both dates (no random draw: the weather was
    drawn when the run was planned, and the same fields are written beside the pair)."""
    zwd = [
        atmosphere.zenith_wet_delay(
            frame.weather[d],
            frame.lat,
            frame.lon,
            frame.hour,
            frame.dem,
            config.zwd_per_pwv,
            config.vapour_scale_height_m,
        )
        for d in (pair.primary, pair.secondary)
    ]
    return atmosphere.stratified_phase(zwd[0], zwd[1], frame.look[2])


def _turbulent_term(config: SynthConfig, frame: scene.Frame, rng: np.random.Generator) -> NDArray:
    """A turbulent phase screen whose strength is drawn per pair, before the screen itself."""
    # log-normal around the median, its tail capped: a 25-50 km frame rarely sees more than a few fringes
    turb_std = (
        config.turbulence_mm * 1e-3 * min(float(np.exp(rng.normal(0.0, 0.6))), config.turbulence_max_factor)
    )
    if rng.random() < 0.07:
        turb_std *= 0.15  # a calm day
    pixel_m = GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT
    return atmosphere.turbulent_phase(
        (frame.height, frame.width),
        turb_std,
        config.turbulence_beta,
        frame.look[2],
        rng,
        beta_short=config.turbulence_beta_short,
        crossover_px=config.turbulence_crossover_m / pixel_m,
    )


def _atmosphere_terms(
    config: SynthConfig, frame: scene.Frame, pair: PlannedPair, rng: np.random.Generator
) -> tuple[NDArray, NDArray]:
    """(stratified, turbulent) phases, each settled on the side of its visibility threshold that the
    directive's code (or, for turbulence, a draw conditioned on the stratified term) calls for."""
    land = frame.land
    directive = pair.directive
    strat = _stratified_term(config, frame, pair)
    turb = _turbulent_term(config, frame, rng)
    if directive is not None:
        strat = _settle_stratified(strat, land, bool(directive.atmospheric & 1), rng)
    stratified_visible = land.any() and float(np.ptp(strat[land])) >= atmosphere.STRATIFIED_MIN_RAD
    p_turb = (
        atmosphere.TURBULENT_GIVEN_STRATIFIED
        if stratified_visible
        else atmosphere.TURBULENT_GIVEN_NOT_STRATIFIED
    )
    turbulent_visible = bool(rng.random() < p_turb)  # drawn for a twin pair too: the same stream
    if directive is not None:
        turbulent_visible = bool(directive.atmospheric & 2)
    turb = atmosphere.settle_turbulence(turb, land, turbulent_visible, rng)
    return strat, turb


def _orbital_ramp(
    config: SynthConfig, frame: scene.Frame, directive: Directive | None, rng: np.random.Generator
) -> tuple[int, NDArray]:
    """(orbital code, ramp phase): a planar ramp along a drawn azimuth, of a few fringes when the pair
    is labelled orbital and a fraction of one otherwise."""
    orbital = int(rng.random() < config.orbital_fraction)
    if directive is not None:
        orbital = directive.orbital
    ramp_fringes = rng.uniform(1.0, 3.0) if orbital else rng.uniform(0.0, 0.2)
    az = rng.uniform(0.0, 2 * np.pi)
    ramp_axis = frame.east * np.sin(az) + frame.north * np.cos(az)
    ramp = 2 * np.pi * ramp_fringes * (ramp_axis - ramp_axis.min()) / max(float(np.ptp(ramp_axis)), 1.0)
    return orbital, ramp


def _glacier_term(
    config: SynthConfig, frame: scene.Frame, directive: Directive | None, rng: np.random.Generator
) -> NDArray:
    """LOS metres of ice flow: zeros unless the pair is drawn (or directed) icy; the draw happens only
    on glaciated volcanoes, as before."""
    land = frame.land
    ice = np.zeros((frame.height, frame.width))
    icy = frame.volcano.glaciated and rng.random() < config.glacier_fraction
    if directive is not None:
        icy = directive.glacier > 0
    if icy:
        unit = glacier.glacier_los(
            glacier.ice_cover(frame.dem, land), frame.grad_e, frame.grad_n, frame.look, 1.0
        )
        span = float(np.ptp(unit[land])) if land.any() else 0.0
        if span > 0.0:  # 1.2 to 5 fringes of ice motion over the pair (the twin: the code's band)
            n_ice = {None: (1.2, 5.0), 1: (1.2, 2.9), 2: (3.1, 5.0)}[directive and directive.glacier]
            ice = unit * float(rng.uniform(*n_ice)) * deformation.FRINGE_M / span
    return ice


def _written_phase(
    pair: PlannedPair, unwrapped: NDArray, coh: NDArray, land: NDArray, rng: np.random.Generator
) -> tuple[NDArray[np.float32], int, list[str]]:
    """(wrapped phase as written, processing-error code, caption notes): the processing error
    applied before wrapping, no data off land, the corruption applied to the written rasters
    (`coh` is zeroed off land and corrupted in place)."""
    directive = pair.directive
    proc_code, notes = 0, []
    if pair.processing_error:
        proc_code, note = artifacts.processing_error(
            unwrapped, rng, directive.processing_error if directive is not None else None
        )
        notes.append(note)
    pha = geometry.wrap(unwrapped).astype(np.float32)
    pha[pha == 0.0] = np.float32(1e-6)  # 0 means no data in LiCSAR products
    pha[~land] = 0.0
    coh[~land] = 0.0
    if pair.corrupted:
        notes.append(artifacts.corrupt(pha, coh, rng))
    return pha, proc_code, notes


def _pair_record(
    frame: scene.Frame,
    pair: PlannedPair,
    sources: list[labels.DrawnSource],
    terms: tuple[NDArray, NDArray, NDArray, NDArray],
    orbital: int,
    proc_code: int,
    notes: list[str],
) -> dict[str, object]:
    """The annotation the drawn terms imply (`terms`: stratified, turbulent, glacier LOS, true
    coherence), caption included; a twin pair keeps its real record."""
    strat, turb, ice, gamma = terms
    land = frame.land
    atm = atmosphere.atmospheric_code(strat, turb, land)
    ice_code = glacier.glacier_code(ice, land)
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
                ice_code,
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
        glacier=ice_code,
        caption=caption,
    )
    if pair.directive is not None:
        record = pair.directive.record
    return record


def render_pair(config: SynthConfig, frame: scene.Frame, pair: PlannedPair) -> PairRender:
    """Draw one pair: the sum of its physical terms, wrapped, plus the labels those terms imply.

    Every step draws from the pair's one generator in this order (coherence factor, turbulence,
    atmosphere thresholds, orbital ramp, phase noise, glacier, artefacts, older coherence): the files
    are a pure function of the config only while the order stays as it is."""
    rng = scene.rng(config.seed, scene.PAIR, pair.uid)
    days = _unrest_days(config, frame, pair)
    gamma = _pair_gamma(config, frame, pair, rng, pair.positive or days > 0)
    sources = _pair_sources(config, frame, pair, gamma, days)
    d_los = sum((s.d_los for s in sources), np.zeros((frame.height, frame.width)))
    strat, turb = _atmosphere_terms(config, frame, pair, rng)
    orbital, ramp = _orbital_ramp(config, frame, pair.directive, rng)
    noise, coh = coherence.multilook(gamma, config.looks, rng)  # the written coherence drove the noise
    ice = _glacier_term(config, frame, pair.directive, rng)
    unwrapped = geometry.phase_of_los(d_los + ice) + strat + turb + ramp + noise
    pha, proc_code, notes = _written_phase(pair, unwrapped, coh, frame.land, rng)
    record = _pair_record(frame, pair, sources, (strat, turb, ice, gamma), orbital, proc_code, notes)
    older = bool(rng.random() < config.older_coherence_fraction)
    return PairRender(record, sources, d_los, strat, turb, ramp, noise, gamma, pha, coh, older, ice)


def written_coherence(r: PairRender) -> NDArray:
    """The .geo.cc.tif raster of a pair: uint8 0..255 (float32 0..1 for older products); every pixel
    with phase has a coherence of at least 1/255, no data is 0 in both files."""
    valid = r.phase != 0
    if r.older_coherence:
        return np.where(valid, np.clip(r.coherence, 1 / 255, 1.0), 0.0).astype(np.float32)
    return np.where(valid, np.clip(np.rint(r.coherence * 255), 1, 255), 0).astype(np.uint8)


def write_pair(frame: scene.Frame, pair: PlannedPair, r: PairRender, out: Path) -> list[str]:
    written: list[str] = []
    d1, d2 = pair.primary.strftime("%Y%m%d"), pair.secondary.strftime("%Y%m%d")
    if not pair.missing:
        folder = Path("licsar") / frame.fid / "interferograms" / f"{d1}_{d2}"
        cc = written_coherence(r)
        for suffix, data in ((".geo.diff_pha.tif", r.phase), (".geo.cc.tif", cc)):
            rel = folder / f"{d1}_{d2}{suffix}"
            writers.write_geotiff(out / rel, data, frame.lat_max, frame.lon_min, nodata=0)
            written.append(rel.as_posix())
    rel = Path("annotations") / f"{pair.uid}.json"
    writers.write_json(out / rel, r.record)
    written.append(rel.as_posix())
    return written


def write_frame(config: SynthConfig, frame: scene.Frame, out: Path) -> list[str]:
    """The frame's metadata folder and the ERA5 of every date its pairs use."""
    return write_frame_metadata(frame, out) + write_frame_era5(config, frame, out, sorted(frame.weather))


def write_frame_metadata(frame: scene.Frame, out: Path) -> list[str]:
    """FRAME/metadata/: DEM, look-vector rasters and metadata.txt."""
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
    return written


def write_frame_era5(config: SynthConfig, frame: scene.Frame, out: Path, dates: list[dt.date]) -> list[str]:
    """The ERA5 NetCDF of the frame's acquisition `dates` (one file per date)."""
    written = []
    for d in dates:
        weather = frame.weather[d]
        fields = atmosphere.era5_fields(weather, frame.era5, frame.orography, config.vapour_scale_height_m)
        times = np.datetime64(d.isoformat(), "h") + np.arange(24).astype("timedelta64[h]")
        rel = Path("era5") / f"era5_{frame.fid}_{d.strftime('%Y%m%d')}.nc"
        writers.write_era5(out / rel, times, frame.era5.latitude, frame.era5.longitude, fields)
        written.append(rel.as_posix())
    return written


@dataclass(frozen=True)
class Plan:
    """The frames of a run and its pairs in uniqueID order, categories allocated."""

    frames: list[scene.Frame]
    pairs: list[tuple[scene.Frame, PlannedPair]]


def plan(config: SynthConfig) -> Plan:
    """Frames, weather, pairs and their categories: everything decided before any pixel is drawn."""
    taken: set[str] = set()
    built = [scene.build_frame(config, i, taken) for i in range(config.frames)]
    all_pairs: list[tuple[scene.Frame, PlannedPair]] = []
    uid = 1
    for i, frame in enumerate(built):
        scene.draw_weather(config, frame, i)
        for p, s in frame.pairs:
            all_pairs.append((frame, PlannedPair(uid, i, p, s)))
            uid += 1
    _allocate(config, [p for _, p in all_pairs])
    return Plan(built, all_pairs)


def generate(
    config: SynthConfig, out_dir: str | Path, progress: Callable[[int, int], None] | None = None
) -> SynthManifest:
    """Write a synthetic source archive under `out_dir` (a local folder, new or empty)."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise OutputNotEmptyError(f"{out}: output folder is not empty; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    run = plan(config)
    paths: list[str] = []
    for frame in run.frames:
        paths += write_frame(config, frame, out)
    positives = 0
    total = len(run.pairs)
    for done, (frame, pair) in enumerate(run.pairs, start=1):
        rendered = render_pair(config, frame, pair)
        positives += rendered.record["label"] != ["Non_Deformation"]
        paths += write_pair(frame, pair, rendered, out)
        if progress is not None:
            progress(done, total)
    return SynthManifest.of(run.frames, [p for _, p in run.pairs], positives, paths)
