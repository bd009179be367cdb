"""Configuration of the synthetic source generator: sizes, seed and physics knobs in one typed object."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from hephaestus.platform.config import Config


class Unrest(Config):
    """A volcanic source that starts inflating on `start` and keeps a constant rate (the monitoring
    scenario): a pair shows the inflation accumulated between max(primary, start) and its secondary
    date, so the first pair whose secondary date is after `start` is the first that shows it."""

    frame: int | None = Field(
        0, ge=0, description="index of the frame whose volcano inflates (None: every frame)"
    )
    start: dt.date = Field(..., description="first day of the inflation")
    fringes_per_30_days: float = Field(
        8.0, gt=0.0, description="LOS fringes the source adds every 30 days (capped at max_fringes + 0.75)"
    )


class SynthConfig(Config):
    """What `generate` builds; the same config always gives the same bytes.

    Fractions are of all pairs of the run. A category with a positive fraction gets at least one
    pair when the run has `guarantee_min_pairs` pairs or more, so that small runs still exercise
    every code path downstream (corrupted, processing error, missing product, positive).
    """

    frames: int = Field(2, ge=1, le=999, description="number of LiCSAR frames")
    pairs: int = Field(
        12, ge=1, le=1200, description="interferogram pairs per frame (a frame has ~380 dates)"
    )
    height: int = Field(256, ge=32, le=8192, description="frame height in pixels (0.001 deg)")
    width: int = Field(256, ge=32, le=8192, description="frame width in pixels (0.001 deg)")
    seed: int = Field(0, ge=0)
    volcanoes: tuple[str, ...] = Field(
        (), description="volcano names to draw frames from (empty: the whole table)"
    )

    # Class balance (real annotations: 9.1 % positive, 1.6 % corrupted, 2.5 % processing error).
    positive_fraction: float = Field(0.09, ge=0.0, le=1.0)
    positive_series_fraction: float = Field(
        0.6, ge=0.0, le=1.0, description="of positive primary-date groups, all pairs show the episode"
    )
    earthquake_fraction: float = Field(0.05, ge=0.0, le=1.0, description="of positives, an Okada fault")
    multi_source_fraction: float = Field(
        0.15, ge=0.0, le=1.0, description="of positives, two volcanic sources"
    )
    rebound_fraction: float = Field(0.08, ge=0.0, le=1.0, description="of volcanic positives, deflation")
    corrupted_fraction: float = Field(0.016, ge=0.0, le=1.0)
    processing_error_fraction: float = Field(0.025, ge=0.0, le=1.0)
    missing_product_fraction: float = Field(0.01, ge=0.0, le=1.0, description="annotation without product")
    older_coherence_fraction: float = Field(0.0, ge=0.0, le=1.0, description="cc.tif as float32 0..1")
    orbital_fraction: float = Field(0.02, ge=0.0, le=1.0, description="pairs with a visible orbital ramp")
    glacier_fraction: float = Field(0.1, ge=0.0, le=1.0, description="of pairs on glaciated volcanoes")
    guarantee_min_pairs: int = Field(10, ge=1)
    swath_footprint: bool = Field(
        True, description="no data in the frame box's corners outside the tilted burst footprint"
    )

    # Deformation and labels.
    mask_fringe_fraction: float = Field(
        0.5, gt=0.0, lt=1.0, description="mask where |LOS| >= this fraction of a fringe (lambda/2)"
    )
    max_fringes: int = Field(8, ge=1, le=40, description="most fringes a drawn source makes")
    poisson_ratio: float = Field(0.25, gt=0.0, lt=0.5)
    unrest: Unrest | None = Field(None, description="a Mogi source inflating from a date on (None: none)")

    # Atmosphere (see atmosphere.py for the model).
    zwd_per_pwv: float = Field(6.2, ge=0.0, description="zenith wet delay per precipitable water (m/m)")
    vapour_scale_height_m: float = Field(2000.0, gt=0.0)
    turbulence_mm: float = Field(4.0, ge=0.0, description="median std of the turbulent slant delay")
    turbulence_max_factor: float = Field(
        2.5, ge=1.0, description="cap of a pair's log-normal turbulence std, in medians"
    )
    turbulence_beta: float = Field(
        8.0 / 3.0, gt=0.0, description="power-law exponent of the delay spectrum above the crossover"
    )
    turbulence_beta_short: float = Field(
        11.0 / 3.0, gt=0.0, description="exponent below the crossover (3-D Kolmogorov turbulence)"
    )
    turbulence_crossover_m: float = Field(
        2000.0, ge=0.0, description="crossover wavelength: thickness of the wet layer (0: one regime)"
    )

    # Coherence (see coherence.py).
    looks: int = Field(40, ge=1, description="effective multilook count for phase noise")
    decorrelation_days: float = Field(4.0, gt=0.0, description="temporal decorrelation time of vegetation")

    @property
    def total_pairs(self) -> int:
        return self.frames * self.pairs

    @field_validator("volcanoes")
    @classmethod
    def _known_volcanoes(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        from hephaestus.ingest.synthetic.frames import VOLCANOES

        known = {v.name for v in VOLCANOES}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"unknown volcano(es) {unknown}; known: {sorted(known)}")
        return names
