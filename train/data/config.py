"""Typed configuration of the crop loader (one object, no literals spread through the code)."""

from __future__ import annotations

from pydantic import Field, model_validator

from hephaestus.platform.config import Config
from hephaestus.platform.dataspec import DataSpec


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


class LoaderConfig(DataSpec):
    """What to load: a data specification plus where (`store_url`) and which split, and how the split
    is read (crops fixed or per epoch, shuffled or in order, usable pairs only, augmentation settings).

    Built from a run's data specification by `for_split`, which applies the split rules: training gets
    the spec's augmentation and undersampling, shuffled per-epoch crops; val and test get fixed crops
    (a function of the sample id alone, identical across seeds and runs), in order, unaugmented.
    Built directly, it takes the DataSpec's defaults (the paper's run: augmented, undersampled); a
    plain loader says `augment=False, undersample=False`.
    `max_offset` is the largest random shift of the crop from its centred position, for frames with
    and without a mask alike (the paper's "random offset from the frame center").
    `statistics`: see `hephaestus.platform.inputs`.
    `windows`: "frame" draws training crops over the whole frame (`MinicubeDataset.window`); val and
    test crops stay centred and fixed, so their metrics stay the paper's.
    """

    store_url: str = ""
    """Store with the cubes and the catalog; empty in a request a source completes with its own."""
    split: str | None = "train"
    fixed_crops: bool = False
    """Each sample's offset is a function of its id only (evaluation); else of (seed, epoch, index)."""
    augmentation: AugmentConfig = AugmentConfig()
    shuffle: bool = False
    usable_only: bool = True

    @classmethod
    def for_split(cls, spec: DataSpec, split: str, store_url: str = "") -> LoaderConfig:
        """The loader configuration of `split` for the data specification `spec` (a run is one)."""
        training = split == "train"
        values = DataSpec.values_of(spec)
        values.update(augment=spec.augment and training, undersample=spec.undersample and training)
        values.update(windows=spec.windows if training else "centred")  # evaluation crops stay fixed
        values.update(synthetic_positives=spec.synthetic_positives if training else 0.0)
        values.update(hard_negatives=spec.hard_negatives if training else None)
        return cls(**values, store_url=store_url, split=split, fixed_crops=not training, shuffle=training)

    @model_validator(mode="after")
    def _check_split(self) -> LoaderConfig:
        if self.split is not None and self.split not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val, test or None, not {self.split!r}")
        if self.fixed_crops and self.windows != "centred":
            raise ValueError("fixed (evaluation) crops are centred: windows='frame' is for training crops")
        return self
