"""The crop dataset: catalog rows in, z-scored crops with masks and labels out."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import Dataset

from hephaestus.platform.inputs import InputSpec
from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.data.crop import place_window, uniform_window, window_label
from hephaestus.train.data.cubes import CubeCache, StoreOpener
from hephaestus.train.data.inject import maybe_paste
from hephaestus.train.data.mined import HARD_SHARE, read_mined
from hephaestus.train.data.read import read_input
from hephaestus.train.data.samples import SampleSpec, pair_samples, select_rows, series_samples
from hephaestus.train.data.sampling import covering_windows, epoch_indices

EVAL_CROP_SEED = 0xE7A1
"""Seed of the fixed evaluation crops: with the sample id, it alone decides their offsets."""


def crop_rng(cfg: LoaderConfig, epoch: int, index: int, sample_id: str) -> np.random.Generator:
    """The generator of a crop's offset: from the sample id alone for fixed (evaluation) crops,
    else from (seed, epoch, index)."""
    if cfg.fixed_crops:
        return np.random.default_rng([EVAL_CROP_SEED, zlib.crc32(sample_id.encode())])
    return np.random.default_rng([cfg.seed, epoch, index])


def input_spec(cfg: LoaderConfig, train_statistics: Mapping[str, Sequence[float]] | None) -> InputSpec:
    """The input specification of a loader configuration (statistics resolved as `cfg.statistics` says)."""
    return InputSpec.create(cfg, train_statistics=train_statistics)


class MinicubeDataset(Dataset):
    """Crops of single pairs or series from cubes, as the paper's benchmark feeds its models.

    Item i: {"image": float32 [T*C, k, k], "mask": int64 [k, k] in {0,1}, "label": int64, "id": str}.
    The input (channels and order, statistics, no-data rule) follows `self.input_spec`
    (`hephaestus.platform.inputs`); reading is `read_input`, shared with `hmc predict`. The mask is
    deformation_mask != 0 (deformation or earthquake), united over the steps. The crop (and
    augmentation) of index i is a function of (seed, epoch, i), or of the sample id for fixed crops.
    With `cfg.windows == "frame"` (training): a window covering the deformation or one anywhere in the
    frame (`window`), and the label says whether the window holds deformation (`crop.window_label`),
    which is what the monitor's highest-window score asks of a model; undersampling balances the
    epoch's covering windows (its expected positives) against the others.
    `statistics`: the train split's (mean, std) table, used when `cfg.statistics` is "train".
    """

    def __init__(
        self,
        pairs: pa.Table,
        series: pa.Table | None,
        statistics: Mapping[str, Any] | None,
        cfg: LoaderConfig,
        *,
        store_opener: StoreOpener | None = None,
    ) -> None:
        self.cfg = cfg
        self.epoch = 0
        pairs = select_rows(
            pairs,
            None if cfg.series else cfg.split,
            cfg.usable_only and not cfg.series,
            scheme=cfg.split_scheme,
        )
        if cfg.series:
            if series is None:
                raise ValueError("series=True needs the series rows")
            series = select_rows(series, cfg.split, usable_only=False, scheme=cfg.split_scheme)
            self.samples: list[SampleSpec] = series_samples(series, pairs, cfg.steps)
            self.rows = series
        else:
            self.samples = pair_samples(pairs)
            self.rows = pairs
        self.input_spec = input_spec(cfg, statistics)
        self.steps = self.input_spec.series_length
        self.step_channels = self.input_spec.channels
        self.labels = np.array([s.label for s in self.samples], dtype=np.int64)
        self.has_mask = np.array([s.bbox is not None for s in self.samples], dtype=bool)
        self._covering: tuple[int, np.ndarray] | None = None  # (epoch, covering_windows of it)
        self._cubes = CubeCache(store_opener)
        self._mined = read_mined(cfg.hard_negatives) if cfg.hard_negatives and self.frame_windows else {}

    @classmethod
    def from_catalog(cls, cfg: LoaderConfig, **kwargs: Any) -> MinicubeDataset:
        """Read the index (and the train split's statistics) of `cfg.store_url` through `hephaestus.catalog`."""
        from hephaestus import catalog

        if not cfg.store_url:
            raise ValueError("LoaderConfig.store_url is empty: the dataset needs a store with a catalog")
        # series: every pair a series names must be there, whatever its split or usability
        pairs = catalog.read_pairs(
            cfg.store_url,
            split=None if cfg.series else cfg.split,
            usable_only=cfg.usable_only and not cfg.series,
            split_scheme=cfg.split_scheme,
        )
        series = None
        if cfg.series:
            length = catalog.read_series_length(cfg.store_url, cfg.series_length)
            cfg = cfg.model_copy(update={"series_length": length})
            series = catalog.read_series(cfg.store_url, split=cfg.split, split_scheme=cfg.split_scheme)
        train = cfg.statistics == "train"
        stats = catalog.read_train_statistics(cfg.store_url, cfg.split_scheme) if train else None
        return cls(pairs, series, stats, cfg, **kwargs)

    # -- size and channels ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.samples)

    @property
    def in_channels(self) -> int:
        return self.input_spec.in_channels

    @property
    def channel_names(self) -> list[str]:
        return self.input_spec.channel_names

    def set_epoch(self, epoch: int) -> None:
        """Crops, augmentations and the undersampled index list all follow the epoch."""
        self.epoch = int(epoch)

    def epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of an epoch (undersampled / shuffled as configured)."""
        e = self.epoch if epoch is None else epoch
        labels = self.covering(e).astype(np.int64) if self.frame_windows else self.labels
        return epoch_indices(labels, e, self.cfg.seed, self.cfg.undersample, self.cfg.shuffle)

    @property
    def frame_windows(self) -> bool:
        """Crops drawn over the whole frame and labelled by their content (`cfg.windows == "frame"`)."""
        return self.cfg.windows == "frame"

    def covering(self, epoch: int | None = None) -> np.ndarray:
        """Frame windows: which samples' windows cover their deformation in the epoch (bool per sample)."""
        e = self.epoch if epoch is None else epoch
        if self._covering is None or self._covering[0] != e:
            self._covering = (e, covering_windows(self.has_mask, e, self.cfg.seed))
        return self._covering[1]

    # -- reading ----------------------------------------------------------------------------
    def window(self, index: int) -> tuple[int, int, int, int]:
        """(row0, col0, height, width): the crop's top-left corner and the frame size.

        Centred windows: around the mask box, or the frame centre without one, shifted by up to
        `max_offset`. Frame windows: that same placement when the sample covers this epoch
        (`covering`), else uniform over the frame, for positive pairs too (away from the deformation
        it is a negative), or half of the time the pair's mined window (`cfg.hard_negatives`).
        One window for all steps of a series (their union mask box).
        """
        spec = self.samples[index]
        cube = self._cubes.get(spec.steps[0].cube_url)
        rng = crop_rng(self.cfg, self.epoch, index, spec.id)
        k = self.cfg.crop_size
        if self.frame_windows and not self.covering()[index]:
            mined = self._mined.get(spec.steps[0].cube_url, {}).get(spec.id)
            if mined is not None and rng.random() < HARD_SHARE:
                r0, c0 = min(mined[0], max(cube.height - k, 0)), min(mined[1], max(cube.width - k, 0))
            else:
                r0, c0 = uniform_window(cube.height, cube.width, k, rng)
        else:
            r0, c0 = place_window(cube.height, cube.width, k, spec.bbox, self.cfg.max_offset, rng)
        return r0, c0, cube.height, cube.width

    def label(self, index: int, mask: np.ndarray) -> int:
        """The sample's label: the pair's (or series'), or with frame windows whether the window whose
        (unaugmented) mask is `mask` holds deformation."""
        spec = self.samples[index]
        if not self.frame_windows:
            return spec.label
        r0, c0, _, _ = self.window(index)
        return window_label(mask, r0, c0, spec.bbox)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Normalised image [T*C, k, k] float32 and mask [k, k] int64 of sample `index`, not augmented."""
        spec = self.samples[index]
        k = self.cfg.crop_size
        r0, c0, _, _ = self.window(index)
        cube = self._cubes.get(spec.steps[0].cube_url)
        return read_input(cube, spec.steps, self.input_spec, r0, c0, k, k)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.samples):
            raise IndexError(f"sample {index} outside 0..{len(self.samples) - 1}")
        image_np, mask_np = self.read(index)
        label = self.label(index, mask_np)
        if label == 0 and self.cfg.synthetic_positives > 0.0:
            image_np, mask_np, pasted = maybe_paste(
                image_np,
                mask_np,
                self.input_spec,
                self.cfg.synthetic_positives,
                self.cfg.seed,
                self.epoch,
                index,
            )
            if pasted:
                label = window_label(mask_np, 0, 0, None)
        image = torch.from_numpy(image_np)
        mask = torch.from_numpy(mask_np)
        extra: dict[str, Any] = {}
        if self.cfg.augment:  # torchvision loads in seconds: only when augmenting
            from hephaestus.train.data.augment import augment_item

            image, mask, extra = augment_item(self.cfg, self.epoch, index, image, mask)
        spec = self.samples[index]
        return {
            "image": image,
            "mask": mask,
            "label": torch.tensor(label, dtype=torch.int64),
            "id": spec.id,
            **extra,
        }

    def plot(self, sample: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """A Figure of the sample's steps (phase, coherence) with the mask outlined (paper Fig. 6)."""
        from hephaestus.train.data.plot import plot_sample

        return plot_sample(sample, self.channel_names, self.steps, len(self.step_channels))
