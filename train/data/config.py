"""Typed configuration of the crop loader (one object, no literals spread through the code)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hephaestus.platform.config import Config


class AugmentConfig(Config):
    """Training augmentations (paper: gaussian blur, random resized crop, flips, rotations)."""

    blur_p: float = Field(0.5, ge=0, le=1)
    blur_kernel: int = 5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    resized_crop_scale: tuple[float, float] = (0.5, 1.0)
    resized_crop_ratio: tuple[float, float] = (0.75, 4 / 3)
    flip_p: float = Field(0.5, ge=0, le=1)
    rotation_degrees: float = 180.0


class LoaderConfig(Config):
    """What to load (split, single pairs or series, atmosphere) and how (crop, offset, seed).

    `max_offset` is the largest random shift of the crop from the centred position; use 0 for a
    fixed evaluation crop. `offset_without_mask`: frames without a mask are cropped around the
    frame centre, shifted by the same random offset when True (the paper's "random offset from the
    frame center"), exactly centred when False (the default: the issue's "centre of the frame"). `statistics`: "catalog" reads the collection's
    statistics (which fall back to the authors'), "authors" uses `schema.AUTHORS_STATISTICS`.
    """

    store_url: str = ""
    split: str | None = "train"
    series: bool = False
    atmosphere: bool = True
    crop_size: int = Field(512, gt=0)
    max_offset: int = Field(128, ge=0)
    offset_without_mask: bool = False
    augment: bool = False
    augmentation: AugmentConfig = AugmentConfig()
    undersample: bool = False
    shuffle: bool = False
    seed: int = 0
    series_length: int | None = Field(None, ge=1)
    """Pairs per series; None: the catalog's (`from_catalog`), else it must equal the catalog's."""
    statistics: Literal["catalog", "authors"] = "catalog"
    usable_only: bool = True

    @model_validator(mode="after")
    def _check_split(self) -> LoaderConfig:
        if self.split is not None and self.split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val, test or None, not {self.split!r}")
        return self
