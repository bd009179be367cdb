"""Frames of a run: LiCSAR-style ids, a volcano per frame from a table of real ones, the pixel grid,
the viewing geometry and the Sentinel-1 acquisition calendar with its interferometric pairs."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hephaestus.ingest.synthetic.geometry import Viewing
from hephaestus.platform.schema import SPLITS


@dataclass(frozen=True)
class Volcano:
    name: str
    lat: float
    lon: float
    summit_m: float
    coastal: bool
    glaciated: bool = False


VOLCANOES: tuple[Volcano, ...] = (
    Volcano("Etna", 37.748, 14.999, 3320.0, True),
    Volcano("Campi Flegrei", 40.827, 14.139, 458.0, True),
    Volcano("Kilauea", 19.421, -155.287, 1222.0, True),
    Volcano("Fernandina", -0.370, -91.550, 1476.0, True),
    Volcano("Sierra Negra", -0.830, -91.170, 1124.0, True),
    Volcano("La Palma", 28.570, -17.830, 1949.0, True),
    Volcano("Agung", -8.343, 115.508, 3031.0, True),
    Volcano("Nyiragongo", -1.520, 29.250, 3470.0, False),
    Volcano("Askja", 65.030, -16.750, 1516.0, False, glaciated=True),
    Volcano("Piton de la Fournaise", -21.244, 55.708, 2632.0, True),
    Volcano("Erta Ale", 13.600, 40.670, 613.0, False),
    Volcano("Domuyo", -36.580, -70.420, 4709.0, False, glaciated=True),
    Volcano("Okmok", 53.430, -168.130, 1073.0, True),
    Volcano("Santorini", 36.404, 25.396, 367.0, True),
    Volcano("Hekla", 63.980, -19.700, 1491.0, False, glaciated=True),
    Volcano("Taal", 14.002, 120.993, 311.0, True),
)

S1A_START = dt.date(2014, 10, 3)
S1B_START = dt.date(2016, 9, 30)  # 6-day revisit from here
S1B_END = dt.date(2021, 12, 22)
MIDNIGHT_MARGIN_S = 1860.0
SPLIT_WEIGHTS = {"train": 0.55, "val": 0.15, "test": 0.30}
"""Share of primary dates drawn in each benchmark window (real pairs: 54 / 14 / 33 %)."""


def frame_id(rng: np.random.Generator, taken: set[str]) -> str:
    """A LiCSAR-style id: track (3 digits) + pass (A/D), 5 digits, burst counts of three sub-swaths."""
    while True:
        track = int(rng.integers(1, 176))
        direction = "A" if rng.random() < 0.5 else "D"
        middle = int(rng.integers(1, 10000))
        bursts = rng.integers(1, 14, size=3)
        fid = f"{track:03d}{direction}_{middle:05d}_{bursts[0]:02d}{bursts[1]:02d}{bursts[2]:02d}"
        if fid not in taken:
            return fid


def viewing(fid: str, rng: np.random.Generator) -> Viewing:
    ascending = fid[3] == "A"
    heading = (-12.0 if ascending else 192.0) + float(rng.normal(0.0, 1.5))
    return Viewing(heading_deg=heading, incidence_deg=float(rng.uniform(31.0, 44.0)))


def swath_footprint(height: int, width: int, heading_deg: float) -> NDArray[np.bool_]:
    """Pixels inside the frame's data footprint: LiCSAR geocodes a burst rectangle tilted by the
    orbit heading (~12 deg) into a lat/lon box, so the box's corners carry no data (about a quarter
    of the box: the zeros that pull the real cubes' mean coherence and elevation down)."""
    tilt = math.radians((heading_deg + 90.0) % 180.0 - 90.0)
    c, s = math.cos(tilt), abs(math.sin(tilt))
    det = c * c - s * s
    half_u = (width / 2 * c - height / 2 * s) / det
    half_v = (height / 2 * c - width / 2 * s) / det
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    x, y = cols + 0.5 - width / 2, height / 2 - rows - 0.5
    u = x * math.cos(tilt) - y * math.sin(tilt)
    v = x * math.sin(tilt) + y * math.cos(tilt)
    return (np.abs(u) <= half_u + 0.5) & (np.abs(v) <= half_v + 0.5)


def center_time_seconds(fid: str, lon: float, rng: np.random.Generator) -> float:
    """UTC time of day (s) of the frame's acquisitions: ~06:00 local descending, ~18:00 ascending."""
    local = 18.0 if fid[3] == "A" else 6.0
    hours = (local - lon / 15.0) % 24.0
    t = float((hours * 3600.0 + rng.uniform(-1800.0, 1800.0)) % 86400.0)
    # Keep the nearest ERA5 hour on the acquisition's own (UTC) day, as the one-file-per-day layout needs.
    return float(np.clip(t, MIDNIGHT_MARGIN_S, 86400.0 - MIDNIGHT_MARGIN_S))


SIX_DAY_SHARE = 0.5
"""Share of frames with the 6-day revisit of the two-satellite era (Sentinel-1B did not cover all)."""
LONG_PAIR_SHARE = 0.1
LONG_GAP_MEDIAN_EXCESS_DAYS = 36.0
LONG_GAP_SIGMA = 0.9
LONG_GAP_MAX_DAYS = 414
"""About 10 % of the real pairs span more than 48 days (a secondary after gaps in the archive): the
excess over 48 days is log-normal, median 36 days, so the tail has median ~84, 90th percentile ~160
and reaches 414 days, as in the annotations."""


def acquisitions(rng: np.random.Generator, six_day: bool | None = None) -> list[dt.date]:
    """The frame's acquisition calendar: 12-day revisit from late 2014, 6-day from late 2016 to 2021
    on frames the two satellites covered (`six_day`, drawn when None), 12-day on the others."""
    if six_day is None:
        six_day = bool(rng.random() < SIX_DAY_SHARE)
    day = S1A_START + dt.timedelta(days=int(rng.integers(0, 12)))
    out = []
    while day <= S1B_END:
        out.append(day)
        day += dt.timedelta(days=6 if six_day and day >= S1B_START else 12)
    return out


def _long_secondary(acq: list[dt.date], i: int, rng: np.random.Generator) -> int | None:
    """Index of a secondary 48-414 days after acq[i] (the long tail), None past the calendar."""
    gap = min(48.0 + LONG_GAP_MEDIAN_EXCESS_DAYS * float(np.exp(rng.normal(0.0, LONG_GAP_SIGMA))), 414.0)
    target = acq[i] + dt.timedelta(days=gap)
    j = int(np.searchsorted(np.array(acq, dtype="datetime64[D]"), np.datetime64(target, "D")))
    if j >= len(acq):
        return None
    if (acq[j] - acq[i]).days > LONG_GAP_MAX_DAYS:
        j -= 1
    return j if (acq[j] - acq[i]).days > 48 else None


def draw_pairs(acq: list[dt.date], n_pairs: int, rng: np.random.Generator) -> list[tuple[dt.date, dt.date]]:
    """`n_pairs` pairs (acq[i], acq[i+k]), k in 1..4, grouped by primary date (1-4 secondaries each);
    a share LONG_PAIR_SHARE of the secondaries is instead drawn 48-414 days later (the long tail).

    The first three groups go one to each benchmark split (in random order), later ones by
    SPLIT_WEIGHTS, so that every split gets pairs once a frame has a few groups.
    """
    windows = {name: (dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for name, (a, b) in SPLITS.items()}
    names = list(SPLIT_WEIGHTS)
    order = [names[i] for i in rng.permutation(len(names))]
    used: set[int] = set()
    pairs: list[tuple[dt.date, dt.date]] = []
    group = 0
    while len(pairs) < n_pairs:
        split = (
            order[group]
            if group < len(order)
            else str(rng.choice(names, p=np.array(list(SPLIT_WEIGHTS.values()))))
        )
        lo, hi = windows[split]
        cands = [i for i, d in enumerate(acq[:-4]) if lo <= d <= hi and i not in used]
        if not cands:
            cands = [i for i in range(len(acq) - 4) if i not in used]
        if not cands:  # every primary used: complete groups to four secondaries, earliest first
            have = set(pairs)
            per_primary = Counter(p for p, _ in pairs)
            for i in range(len(acq) - 4):
                for k in range(1, 5):
                    if len(pairs) < n_pairs and per_primary[acq[i]] < 4 and (acq[i], acq[i + k]) not in have:
                        pairs.append((acq[i], acq[i + k]))
                        per_primary[acq[i]] += 1
            if len(pairs) < n_pairs:
                raise ValueError(f"cannot draw {n_pairs} pairs from {len(acq)} acquisitions")
            break
        i = int(rng.choice(cands))
        used.add(i)
        size = int(min(rng.integers(1, 5), n_pairs - len(pairs)))
        seconds = {i + int(k) for k in rng.choice(np.arange(1, 5), size=size, replace=False)}
        for j in sorted(seconds):
            if rng.random() < LONG_PAIR_SHARE:
                far = _long_secondary(acq, i, rng)
                if far is not None and far not in seconds:
                    seconds = (seconds - {j}) | {far}
        pairs += [(acq[i], acq[j]) for j in sorted(seconds)]
        group += 1
    return sorted(pairs)
