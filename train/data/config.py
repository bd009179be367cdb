"""Typed configuration of the crop loader (one object, no literals spread through the code)."""

from __future__ import annotations

from pydantic import Field, model_validator

from hephaestus.platform.config import Config
from hephaestus.platform.inputs import DEFAULT_CROP, DEFAULT_MAX_OFFSET, DEFAULT_STATISTICS, StatisticsChoice


class AugmentConfig(Config):
    """Training augmentations with the authors' settings (their albumentations 1.3 pipeline)."""

    blur_p: float = Field(0.3, ge=0, le=1)
    blur_kernel: tuple[int, int] = (3, 7)
    """Smallest and largest (odd) kernel size."""
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    resized_crop_p: float = Field(0.3, ge=0, le=1)
    resized_crop_scale: tuple[float, float] = (0.08, 1.0)
    resized_crop_ratio: tuple[float, float] = (0.75, 4 / 3)
    flip_p: float = Field(0.3, ge=0, le=1)
    """Each of the horizontal and the vertical flip."""
    rotation_p: float = Field(0.6, ge=0, le=1)
    rotation_degrees: float = Field(90.0, ge=0, le=180)
    """Angles drawn uniformly in [-degrees, degrees]; reflect padding, masks nearest."""


class LoaderConfig(Config):
    """What to load (split, single pairs or series, atmosphere) and how (crop, offset, seed).

    `max_offset` is the largest random shift of the crop from its centred position, for frames with
    and without a mask alike (the paper's "random offset from the frame center"); use 0 for exactly
    centred crops. `fixed_crops`: each sample's offset is a function of its id only, the same for every
    seed, epoch and run (evaluation splits); otherwise of (seed, epoch, index) (training).
    `statistics`: "train" (the catalog's train-split statistics) or "authors" (their statistics.json);
    see `hephaestus.platform.inputs`.
    """

    store_url: str = ""
    split: str | None = "train"
    series: bool = False
    atmosphere: bool = True
    crop_size: int = Field(DEFAULT_CROP, gt=0)
    max_offset: int = Field(DEFAULT_MAX_OFFSET, ge=0)
    fixed_crops: bool = False
    augment: bool = False
    augmentation: AugmentConfig = AugmentConfig()
    undersample: bool = False
    shuffle: bool = False
    seed: int = 0
    series_length: int | None = Field(None, ge=1)
    """Pairs per series; None: the catalog's (`from_catalog`), else it must equal the catalog's."""
    statistics: StatisticsChoice = DEFAULT_STATISTICS
    usable_only: bool = True

    @model_validator(mode="after")
    def _check_split(self) -> LoaderConfig:
        if self.split is not None and self.split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val, test or None, not {self.split!r}")
        return self
