"""The data specification: which samples a run trains on and how they are cut, declared once.

A `DataSpec` is the one shape of the data settings. The run configuration is one (`RunConfig` extends
it, so its YAML stays flat), the crop loader's configuration is one plus where and which split
(`LoaderConfig.for_split`), and the checkpoint's input specification is derived from one
(`InputSpec.create`). A new data setting is a field here and reaches all three.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from hephaestus.platform import schema
from hephaestus.platform.config import Config
from hephaestus.platform.inputs import DEFAULT_CROP, DEFAULT_MAX_OFFSET, DEFAULT_STATISTICS, StatisticsChoice


class DataSpec(Config):
    """Channels, series, crop, sampling and seed of a run's data (the paper's defaults)."""

    # the attribute docstrings below are the fields' descriptions (the CLI's help texts)
    model_config = ConfigDict(use_attribute_docstrings=True)

    series: bool = False
    """Series of pairs (same primary date) instead of single pairs."""
    series_length: int | None = Field(None, ge=1)
    """Pairs per series; None: the catalog's (`hmc catalog build -T`), which a given value must equal."""
    atmosphere: bool = True
    """Add the ERA5 atmospheric channels to the InSAR ones."""
    crop_size: int = Field(DEFAULT_CROP, ge=16)
    """Crop edge in pixels."""
    max_offset: int = Field(DEFAULT_MAX_OFFSET, ge=0)
    """Largest random shift of a crop from its centred position (0: centred crops)."""
    statistics: StatisticsChoice = DEFAULT_STATISTICS
    """Normalisation statistics: "train" (the catalog's train split only) or "authors" (their statistics.json)."""
    augment: bool = True
    """Augment the training split (the authors' pipeline)."""
    augment_on: Literal["loader", "device", "read"] = "device"
    """Where the augmentation runs: "device" on whole batches in the training process, on its device (GPU,
    else CPU), after the transfer; "loader" per sample in the DataLoader workers; "read" per sample in the
    workers as one compiled warp right after the read (fastest on CPU; one interpolation where the others
    make two). Same draws, same geometry."""
    undersample: bool = True
    """Undersample the negatives of the training split each epoch."""
    windows: Literal["centred", "frame"] = "centred"
    """Where training crops go: "centred" on the deformation, else the frame centre (the paper's); "frame":
    anywhere in the frame, or over the deformation, labelled by the mask they hold (as monitoring scores)."""
    synthetic_positives: float = Field(0.0, ge=0.0, le=1.0)
    """Share of training windows without deformation that get a drawn source's fringes pasted in
    (`train.data.inject`: positives on every background the negatives have); 0: none (the paper's)."""
    hard_negatives: str | None = None
    """Frame windows: URL of mined windows (`train.hard_negatives`: a classifier's highest-scoring window
    of each training pair without deformation), drawn instead of a uniform window half of the time."""
    split_scheme: schema.SplitScheme = schema.DEFAULT_SPLIT_SCHEME
    """Which train/val/test split: "paper" (by primary date, every volcano in every split) or "volcano"
    (whole volcanoes held out: val and test volcanoes never seen in training)."""
    seed: int = 0
    """Seed of the crops, augmentations, sampling and model initialisation."""

    @property
    def steps(self) -> int:
        """Pairs per sample: 1 for single pairs, the series length (default the platform's) for series."""
        return (self.series_length or schema.SERIES_LENGTH) if self.series else 1

    @classmethod
    def values_of(cls, spec: DataSpec) -> dict[str, Any]:
        """The data settings of `spec` (or of any model extending DataSpec, e.g. a run), by field."""
        return {name: getattr(spec, name) for name in DataSpec.model_fields}


__all__ = ["DataSpec"]
