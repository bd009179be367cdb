"""Which deformation sources a frame and a pair get, and how strong: the physics behind the labels.

A frame carries two volcanic sources (a main one and a second for two-source pairs) near its volcano;
a positive pair draws the main source (sometimes both, sometimes an earthquake instead or as well)
and scales each to a drawn fringe count: every source is linear in its strength, so the strength is
(target fringes * lambda / 2) / (LOS span of the unit source over land).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from hephaestus.ingest.synthetic import geometry, labels
from hephaestus.ingest.synthetic.config import SynthConfig
from hephaestus.ingest.synthetic.sources import SourceModel
from hephaestus.platform.schema import C_BAND_WAVELENGTH_M, GRID_SPACING_DEG

if TYPE_CHECKING:
    from hephaestus.ingest.synthetic.scene import Frame

FRINGE_M = C_BAND_WAVELENGTH_M / 2.0
VOLCANIC_TYPES = {"Sill": 0.45, "Dyke": 0.2, "Mogi": 0.22, "Spheroid": 0.13}
"""Share of source types among drawn volcanic sources (real: Sill 52 %, Dyke 21 %, Mogi 17 %...)."""
FRINGE_WEIGHTS = {1: 0.8, 2: 0.09, 3: 0.05}
"""Chance of 1, 2, 3 fringes for a group's shortest pair; the rest (High) spreads evenly over
4..max_fringes. Longer pairs of a group show proportionally more, so the drawn intensities come out
near the real annotations' Low / Medium / High = 41 / 24 / 34 %."""


def volcanic_source(
    kind: str, rng: np.random.Generator, east: float, north: float, extent: float
) -> SourceModel:
    """A volcanic source of `kind` near (east, north), sized to the frame `extent` (m)."""
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


def earthquake(rng: np.random.Generator, east: float, north: float, extent: float) -> SourceModel:
    """A shallow crustal fault (normal, reverse or strike-slip) near (east, north)."""
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


def target_fringes(rng: np.random.Generator, max_fringes: int) -> float:
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


def draw_sources(
    config: SynthConfig,
    frame: Frame,
    episode: np.random.Generator,
    gamma: NDArray,
    dt_days: int,
    shortest_days: int,
) -> list[labels.DrawnSource]:
    """The sources of one positive pair.

    `episode` is the generator of the pair's unrest episode (its frame and primary date): every
    pair of a primary-date group draws the same sources, polarity and rate from it. Volcanic
    sources deform at a constant rate, so a pair spanning `dt_days` shows dt / shortest times the
    drawn fringe count of the group's shortest positive pair (capped at max_fringes + 0.75);
    an earthquake is a step between the primary and the first secondary date, the same in every pair.
    """
    h, w = frame.height, frame.width
    extent = min(h, w) * GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT
    rng = episode
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
        chosen.append((earthquake(rng, e, n, extent), -1, True))
    growth = dt_days / max(shortest_days, 1)
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
        fringes = target_fringes(rng, config.max_fringes)
        if model.activity_type != "Earthquake":
            fringes = min(fringes * growth, config.max_fringes + 0.75)
        strength = fringes * FRINGE_M / span
        d_los = unit * strength * (1.0 if inflation else -1.0)
        src = labels.DrawnSource(model.activity_type, d_los, inflation)
        src.fringes = geometry.fringes(d_los[land])
        drawn.append(src)
    # Visible where the ground is coherent enough for fringes to show (see labels.VISIBLE_GAMMA).
    return labels.assign_masks(drawn, land & (gamma >= labels.VISIBLE_GAMMA), config.mask_fringe_fraction)


UNREST_KEY = 2
"""Frame.unit_los cache key of the unrest source (0 and 1 are the frame's two drawn sources)."""


def unrest_days(start: dt.date, primary: dt.date, secondary: dt.date) -> int:
    """Days of a constant-rate inflation starting on `start` that a (primary, secondary) pair spans."""
    return max((secondary - max(primary, start)).days, 0)


def unrest_source(config: SynthConfig, frame: Frame, days: int) -> labels.DrawnSource | None:
    """The unrest scenario's inflating Mogi source (config.unrest) as a pair spanning `days` of it sees.

    The source sits where the frame's main volcanic source is, at its depth; the fringe count grows
    linearly with the days spanned (capped at max_fringes + 0.75). None when the pair spans none.
    """
    unrest = config.unrest
    if unrest is None or days <= 0:
        return None
    main = dict(frame.volcanic[0].params)
    model = SourceModel(
        "Mogi", "mogi", (("east", main["east"]), ("north", main["north"]), ("depth", main["depth"]))
    )
    unit = frame.unit_los(model, UNREST_KEY, config.poisson_ratio)
    land = frame.land
    span = float(np.ptp(unit[land])) if land.any() else 0.0
    if span <= 0.0:
        return None
    fringes = min(unrest.fringes_per_30_days * days / 30.0, config.max_fringes + 0.75)
    d_los = unit * (fringes * FRINGE_M / span)
    src = labels.DrawnSource("Mogi", d_los, True)
    src.fringes = geometry.fringes(d_los[land])
    return src
