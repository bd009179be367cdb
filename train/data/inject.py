"""Synthetic deformation pasted into training windows: positives on every background a volcano has.

Why: a classifier trained from scratch on the pairs of a few volcanoes learns those volcanoes (their
atmosphere, topography and noise) as much as deformation, and scores a volcano it never saw poorly
(docs/detection.md). Pasting an analytic source's fringes into a window without deformation makes a
positive on the very background of the negatives, so the deformation is the only thing that tells them
apart. This is how Anantrasirichai et al. (2019, RSE 230) trained a detector that transferred to real
Sentinel-1 data: on synthetic interferograms.

The sources are the generator's own (`ingest.synthetic.deformation.volcanic_source`: Mogi, sills, dykes,
spheroids in an elastic half-space) under a Sentinel-1 look, scaled to the generator's fringe counts
(mostly one fringe, as in the real annotations), added to the wrapped phase and re-wrapped. Where the
phase is noise (low coherence) adding a smooth field leaves noise, as on a real interferogram. The mask
is where the pasted field moves the ground by at least half a fringe (the generator's and annotators'
rule), and the window's label follows from it as any frame window's does (`crop.window_label`).
"""

from __future__ import annotations

import numpy as np

from hephaestus.ingest.synthetic import geometry
from hephaestus.ingest.synthetic.config import SynthConfig
from hephaestus.ingest.synthetic.deformation import FRINGE_M, VOLCANIC_TYPES, target_fringes, volcanic_source
from hephaestus.platform import schema
from hephaestus.platform.inputs import PHASE, InputSpec

PIXEL_M = schema.GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT
"""Ground size of a pixel (m) on the platform's grid."""
GENERATOR = SynthConfig()
"""The generator's defaults the pasted sources follow: most fringes, Poisson ratio, mask fraction."""
INJECT_SALT = 0x1F7EC7
"""Mixed into the generator seed so the pasted sources are independent of the crop and augmentation draws."""


def draw_deformation(k: int, rng: np.random.Generator, pixel_m: float = PIXEL_M) -> np.ndarray:
    """LOS displacement (m) [k, k] of one drawn volcanic source placed in a k x k window.

    The source sits in the middle 60 % of the window, its depth a 0.08-0.18 share of an extent of
    0.7-2 windows (the generator's sizing: patterns from a few pixels to most of the window), its kind
    drawn with the generator's shares, its strength scaled to a drawn fringe count over the window,
    inflating or deflating.
    """
    coords = (np.arange(k, dtype=np.float64) - (k - 1) / 2.0) * pixel_m
    east, north = np.meshgrid(coords, -coords)
    half = 0.3 * k * pixel_m
    e0, n0 = rng.uniform(-half, half, size=2)
    kinds, shares = zip(*VOLCANIC_TYPES.items(), strict=True)
    kind = str(rng.choice(kinds, p=np.asarray(shares) / sum(shares)))
    extent = k * pixel_m * float(rng.uniform(0.7, 2.0))
    source = volcanic_source(kind, rng, float(e0), float(n0), extent)
    heading = -12.0 if rng.random() < 0.5 else 192.0
    view = geometry.Viewing(heading_deg=heading, incidence_deg=float(rng.uniform(30.0, 45.0)))
    unit = geometry.los(
        *source.displacement(east, north, GENERATOR.poisson_ratio), geometry.look_vectors(view, east, north)
    )
    span = float(np.ptp(unit))
    if not np.isfinite(span) or span <= 0.0:
        return np.zeros((k, k))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return unit * (sign * target_fringes(rng, GENERATOR.max_fringes) * FRINGE_M / span)


def paste_deformation(
    image: np.ndarray, mask: np.ndarray, spec: InputSpec, d_los: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`image` (normalised, [T*C, k, k]) with `d_los`'s phase added to every step's wrapped phase, and
    `mask` united with where it is visible. No-data phase pixels (normalised 0) stay no-data."""
    mean, std = spec.statistics[schema.statistics_key(PHASE)]
    extra = geometry.phase_of_los(d_los)
    out = image.copy()
    for step in range(spec.series_length):
        c = spec.channel_index(step, PHASE)
        normalised = out[c]
        nodata = normalised == 0.0
        raw = normalised.astype(np.float64) * std + mean
        pasted = (geometry.wrap(raw + extra) - mean) / std
        out[c] = np.where(nodata, 0.0, pasted).astype(np.float32)
    visible = np.abs(d_los) >= GENERATOR.mask_fringe_fraction * FRINGE_M
    return out, (mask.astype(bool) | visible).astype(mask.dtype)


def maybe_paste(
    image: np.ndarray, mask: np.ndarray, spec: InputSpec, share: float, seed: int, epoch: int, index: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """With chance `share` (a function of (seed, epoch, index)), `paste_deformation` of a drawn source;
    returns (image, mask, pasted)."""
    if share <= 0.0:
        return image, mask, False
    rng = np.random.default_rng([INJECT_SALT, seed, epoch, index])
    if rng.random() >= share:
        return image, mask, False
    new_image, new_mask = paste_deformation(image, mask, spec, draw_deformation(image.shape[-1], rng))
    return new_image, new_mask, True


__all__ = ["draw_deformation", "maybe_paste", "paste_deformation"]
