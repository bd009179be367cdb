"""The model input specification: what a model is fed, defined once for training and prediction.

An `InputSpec` names the channels and their order, the normalisation statistics (and where they came
from), the no-data rule, the crop size and the series length. The training dataset builds its crops
with it, every checkpoint stores it (`input.json`), and `hmc predict` rebuilds the same tensor from it,
so the two can never drift apart (a parity test checks them bit for bit).

Choices, each as the authors' code (Orion-AI-Lab/Hephaestus-minicubes) does it:
- channels per step: phase, coherence, DEM, then the ERA5 fields with primary and secondary
  interleaved (p_tcwv, s_tcwv, p_sp, s_sp, p_vit, s_vit), so checkpoints match theirs channel for channel;
  series steps are stacked on the channel axis (step 0 first), the DEM repeated in every step;
- z-score with float32 arithmetic, (x - mean) * (1 / std) with 1 / std taken in float64;
- no-data rule: NaN/inf, a variable's non-NaN `_FillValue` and phase exactly 0 (LiCSAR's no-data)
  become 0 after normalisation, i.e. the mean; pixels outside the frame are 0 as well;
- statistics: "authors" (their statistics.json, `schema.AUTHORS_STATISTICS`) or "train" (the catalog's
  statistics of the train split only, so no val/test pixel leaks into training); default "train";
- channels: those of every cube (required variables): a schema version that adds an optional variable
  changes neither a stored spec nor a new one, so checkpoints keep loading and predicting;
- series: the catalog's series table (same primary date, ordered by secondary date), shorter series
  padded by repeating their last pair, never built anew from dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from hephaestus.platform import schema
from hephaestus.platform.config import Config
from hephaestus.platform.errors import InputError

if TYPE_CHECKING:  # the spec a model input derives from (dataspec imports this module)
    from hephaestus.platform.dataspec import DataSpec

StatisticsChoice = Literal["authors", "train"]
DEFAULT_STATISTICS: StatisticsChoice = "train"
DEFAULT_CROP = 512
"""Crop edge in pixels, as the paper trains (the loader, the run config and the spec default to it)."""
DEFAULT_MAX_OFFSET = 128
"""Largest random shift of a training crop from its centred position (the paper's random offset)."""
PHASE = "insar_difference"
NODATA_RULE = "nan, inf, _FillValue and phase == 0 -> 0 after z-scoring; outside the frame -> 0"
SERIES_RULE = "catalog series table; shorter series padded by repeating the last pair"

BASE_CHANNELS: tuple[str, ...] = ("insar_difference", "insar_coherence", "dem")


def atmosphere_channels() -> tuple[str, ...]:
    """Primary and secondary of each required ERA5 field side by side, as the authors' dataset stacks them.

    Only the required fields (`schema.required_era5_fields`): an optional field added by a later schema
    version is absent from older cubes, so it never joins the channels of a spec, old or new.
    """
    return tuple(
        schema.era5_variable(which, f)
        for f in schema.required_era5_fields()
        for which in ("primary", "secondary")
    )


ATMOSPHERE_CHANNELS: tuple[str, ...] = atmosphere_channels()
"""`atmosphere_channels()` of this schema."""


class InputSpecError(InputError):
    """An input specification (or the statistics it needs) is missing or does not fit the data."""


def step_channels(atmosphere: bool) -> tuple[str, ...]:
    """Per-step input channels in the authors' order (never a schema's optional variable)."""
    return BASE_CHANNELS + (atmosphere_channels() if atmosphere else ())


def pad_series(pair_ids: Sequence[int], length: int, series_id: object = "") -> list[int]:
    """The series rule: a catalog series of 1..length pairs, padded by repeating its last pair."""
    ids = [int(i) for i in pair_ids]
    if not ids or len(ids) > length:
        raise InputSpecError(f"series {series_id}: {len(ids)} pairs, expected 1..{length}")
    return ids + [ids[-1]] * (length - len(ids))


@dataclass(frozen=True)
class ChannelScale:
    """One channel's normalisation: (x - mean) * inv_std in float32 (inv_std = 1/std computed in
    float64), then 0 where the raw value is one of `zero_values` (phase 0, the `_FillValue`)."""

    mean: np.float32
    inv_std: np.float32
    zero_values: tuple[float, ...]
    valid_range: tuple[float, float] | None = None
    """The variable's physical range of raw values (`schema.Variable.valid_range`), or None."""

    def normalised_bounds(self) -> tuple[np.float32, np.float32] | None:
        """The normalised values of the raw range widened by `schema.VALID_RANGE_SLACK`, in the float32
        steps of `apply` (monotone: a normalised value beyond them comes from a raw value beyond the
        range), widened to hold 0 (what no-data becomes); None when the variable has no range."""
        if self.valid_range is None:
            return None
        slack = schema.VALID_RANGE_SLACK
        lo, hi = (
            (np.float32(v) - self.mean) * self.inv_std
            for v in (self.valid_range[0] - slack, self.valid_range[1] + slack)
        )
        return min(lo, np.float32(0.0)), max(hi, np.float32(0.0))

    def raw(self, value: float) -> float:
        """The raw value a normalised one came from (for messages)."""
        return float(value) / float(self.inv_std) + float(self.mean)

    def apply(self, out: np.ndarray, raw: np.ndarray) -> None:
        """out = the normalised `raw` (same shape; `out` may be `raw`). NaN/inf stay: `zero_nonfinite`
        zeroes them once per channel. Callers silence numpy's invalid/overflow warnings."""
        zero = None
        for value in self.zero_values:
            hit = raw == value
            zero = hit if zero is None else zero | hit
        np.subtract(raw, self.mean, out=out)
        np.multiply(out, self.inv_std, out=out)
        if zero is not None:
            out[zero] = 0.0


def zero_nonfinite(channel: np.ndarray) -> None:
    """NaN and inf -> 0 in place (one read-only pass; the array is rewritten only when it has any)."""
    if not np.isfinite(channel).all():
        np.nan_to_num(channel, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


class InputSpec(Config):
    """What one model takes: channels, statistics, no-data rule, crop and series length."""

    atmosphere: bool = True
    series_length: int = Field(1, ge=1)
    """Steps per sample: 1 for single pairs, T for series of the catalog's length."""
    crop_size: int = Field(DEFAULT_CROP, gt=0)
    statistics_source: StatisticsChoice = DEFAULT_STATISTICS
    statistics: dict[str, tuple[float, float]]
    """(mean, std) per statistics key (`schema.statistics_key`): primary and secondary ERA5 share."""
    channels: tuple[str, ...] = ()
    """Per-step channel order, filled from `atmosphere`; a stored spec with another order is refused."""
    nodata_rule: str = NODATA_RULE
    series_rule: str = SERIES_RULE

    @model_validator(mode="after")
    def _check(self) -> InputSpec:
        expected = step_channels(self.atmosphere)
        if not self.channels:
            object.__setattr__(self, "channels", expected)
        elif tuple(self.channels) != expected:
            raise InputSpecError(
                f"channel order {list(self.channels)} is not this platform's {list(expected)}"
            )
        for var in expected:
            key = schema.statistics_key(var)
            if key not in self.statistics:
                raise InputSpecError(f"statistics lack {key!r} (needed for channel {var})")
            mean, std = self.statistics[key]
            if not np.isfinite(mean) or not np.isfinite(std) or std <= 0:
                raise InputSpecError(f"statistics for {key!r} are unusable: mean {mean}, std {std}")
        return self

    @classmethod
    def create(
        cls, data: DataSpec, *, train_statistics: Mapping[str, Sequence[float]] | None = None
    ) -> InputSpec:
        """The spec of the data specification `data` (a run or a loader configuration is one), with its
        statistics resolved: the authors', or the given train-split statistics."""
        if data.statistics == "authors":
            table: Mapping[str, Sequence[float]] = schema.AUTHORS_STATISTICS
        elif train_statistics is None:
            raise InputSpecError("statistics 'train' need the train split's statistics (none given)")
        else:
            table = train_statistics
        keys = {schema.statistics_key(v) for v in step_channels(data.atmosphere)}
        return cls.from_record(
            dict(
                atmosphere=data.atmosphere,
                series_length=data.steps,
                crop_size=data.crop_size,
                statistics_source=data.statistics,
                statistics={k: (float(table[k][0]), float(table[k][1])) for k in sorted(keys) if k in table},
            )
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any], where: str = "input specification") -> InputSpec:
        """A spec from its JSON record (a checkpoint's `input.json`), refused with one clear line."""
        try:
            return cls(**record)
        except ValidationError as exc:
            reasons = "; ".join(str(e.get("msg", e)).removeprefix("Value error, ") for e in exc.errors())
            raise InputSpecError(f"{where}: {reasons}") from None

    # -- shape ----------------------------------------------------------------------------------
    @property
    def in_channels(self) -> int:
        return self.series_length * len(self.channels)

    @property
    def channel_names(self) -> list[str]:
        if self.series_length == 1:
            return list(self.channels)
        return [f"t{t}/{c}" for t in range(self.series_length) for c in self.channels]

    def channel_index(self, step: int, variable: str) -> int:
        return step * len(self.channels) + self.channels.index(variable)

    # -- normalisation --------------------------------------------------------------------------
    def normalise(self, image: np.ndarray, nodata: Mapping[str, float | None]) -> None:
        """In place on raw values [T*C, h, w] float32: z-score and the no-data rule.

        The DEM is read only into step 0; it is normalised there and copied into the other steps.
        `nodata` gives each variable's non-NaN `_FillValue` (None where it has none).
        """
        nch = len(self.channels)
        if image.shape[0] != nch * self.series_length:
            raise InputSpecError(f"input has {image.shape[0]} channels, the spec {nch * self.series_length}")
        for j, var in enumerate(self.channels):
            for step in range(1 if var == "dem" else self.series_length):
                self.normalise_channel(image[step * nch + j], var, nodata.get(var))
        self.copy_dem(image)

    def normalise_channel(self, channel: np.ndarray, variable: str, fill: float | None) -> None:
        """In place on one raw channel [h, w] float32 of `variable`: z-score and the no-data rule.

        One channel at a time, so that a reader can normalise each channel while it is still in cache.
        """
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf are zeroed just below
            self.channel_scale(variable, fill).apply(channel, channel)
        zero_nonfinite(channel)

    def channel_scale(self, variable: str, fill: float | None) -> ChannelScale:
        """The z-score and no-data values of `variable` (`fill`: its non-NaN `_FillValue`, or None)."""
        mean, std = self.statistics[schema.statistics_key(variable)]
        zeros = (0.0,) if variable == PHASE else ()
        return ChannelScale(
            np.float32(mean),
            np.float32(1.0 / np.float64(std)),
            zeros + (() if fill is None else (fill,)),
            schema.VARIABLES[variable].valid_range if variable in schema.VARIABLES else None,
        )

    def copy_dem(self, image: np.ndarray) -> None:
        """Copy step 0's DEM channel into the other steps (it is read and normalised once)."""
        if self.series_length > 1 and "dem" in self.channels:
            nch, j = len(self.channels), self.channels.index("dem")
            for step in range(1, self.series_length):
                image[step * nch + j] = image[j]


__all__ = [
    "ATMOSPHERE_CHANNELS",
    "BASE_CHANNELS",
    "ChannelScale",
    "DEFAULT_STATISTICS",
    "InputSpec",
    "InputSpecError",
    "StatisticsChoice",
    "atmosphere_channels",
    "pad_series",
    "step_channels",
    "zero_nonfinite",
]
