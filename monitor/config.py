"""Typed configuration of `hmc monitor`: where to watch, which checkpoints, the alert thresholds."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from hephaestus.platform.config import Config
from hephaestus.train.frame_metrics import DEFAULT_SCORE_THRESHOLD

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds of a duration written `90`, `90s`, `15m`, `6h` or `1d`."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        m = _DURATION.match(str(text))
        if m is None:
            raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 6h, 1d)")
        seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be positive")
    return seconds


class Thresholds(Config):
    """When a scored pair becomes an alert: its score and its deformed area both pass."""

    score: float = Field(
        DEFAULT_SCORE_THRESHOLD,
        ge=0.0,
        le=1.0,
        description="classifier probability of deformation (used with threshold_from: config, or when "
        "the checkpoint records no calibrated threshold)",
    )
    min_area_km2: float = Field(0.05, ge=0.0, description="area of the predicted deformation mask")
    mask_probability: float = Field(
        0.5, gt=0.0, lt=1.0, description="segmenter probability at which a pixel is deformed"
    )


class MonitorConfig(Config):
    """One watch: the sources it discovers products under, the store it grows, the models it applies."""

    sources: str = Field(..., description="SOURCES folder or bucket prefix (licsar/, era5/, annotations/)")
    store: str = Field(..., description="store URL the cubes, catalog and monitor tables live in")
    checkpoints: tuple[str, ...] = Field(
        ...,
        min_length=1,
        max_length=2,
        description="a classifier and/or a segmenter checkpoint (or run folder)",
    )
    thresholds: Thresholds = Thresholds()
    threshold_from: Literal["checkpoint", "config"] = Field(
        "checkpoint",
        description="score threshold: the checkpoint's calibrated one (else thresholds.score), or "
        "thresholds.score; giving thresholds.score without this field means config",
    )
    persistence: int = Field(
        1,
        ge=1,
        description="alert only when this many overlapping pairs of the frame up to the pair's secondary "
        "date (the pair included) score over the threshold (monitor/persistence.py); 1: the pair alone",
    )
    since: dt.date | None = Field(
        None,
        description="alert only on pairs whose secondary date is on or after this date (YYYY-MM-DD); "
        "None: the day after the checkpoints' training data (monitor/baseline.py); earlier pairs are "
        "scored, never alerted",
    )
    every: float | None = Field(
        None, description="seconds between cycles (DURATION: 90s, 15m, 6h); None: once"
    )
    cycles: int | None = Field(None, ge=1, description="with `every`: stop after this many cycles")
    volcanoes: str | None = Field(None, description="GVP table (CSV); None: the platform's copy")
    max_volcano_km: float = Field(
        100.0,
        gt=0,
        description="a detection names the listed volcano inside its frame nearest it within this "
        "distance; none inside the frame or none this close: no volcano, and a note says why",
    )
    workers: int | None = Field(None, ge=1, description="ingest: local Ray CPUs / tasks in flight")
    address: str | None = Field(None, description="ingest: Ray cluster address")
    batch_size: int = Field(8, ge=1, le=256, description="prediction windows per forward pass")
    fold_every: int = Field(16, ge=1, description="scored pairs between two updates of the tables")

    @model_validator(mode="before")
    @classmethod
    def _explicit_threshold(cls, data: Any) -> Any:
        """A configuration that states thresholds.score (and not threshold_from) means that score."""
        if isinstance(data, dict) and "threshold_from" not in data:
            given = data.get("thresholds")
            stated = given.model_fields_set if isinstance(given, Thresholds) else (given or {})
            if "score" in stated:
                return {**data, "threshold_from": "config"}
        return data

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)  # type: ignore[arg-type]
