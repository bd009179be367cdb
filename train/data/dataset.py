"""The crop dataset: catalog rows in, z-scored crops with masks and labels out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import Dataset

from hephaestus.platform import schema
from hephaestus.train.data.chunks import Window, read_windows
from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.data.crop import place_window
from hephaestus.train.data.cubes import CubeCache, StoreOpener
from hephaestus.train.data.samples import SampleSpec, pair_samples, select_rows, series_samples
from hephaestus.train.data.sampling import epoch_indices

MASK_VARIABLE = "deformation_mask"
PHASE_VARIABLE = "insar_difference"


def _statistics_table(
    statistics: Mapping[str, Any], channels: tuple[str, ...]
) -> dict[str, tuple[float, float]]:
    out = {}
    for var in channels:
        key = schema.statistics_key(var)
        if key not in statistics:
            raise KeyError(f"statistics lack {key!r} (needed for channel {var}); have {sorted(statistics)}")
        mean, std = (float(v) for v in statistics[key])
        if not np.isfinite(mean) or not np.isfinite(std) or std <= 0:
            raise ValueError(f"statistics for {key!r} are unusable: mean {mean}, std {std}")
        out[var] = (mean, std)
    return out


class MinicubeDataset(Dataset):
    """Crops of single pairs or series from cubes, as the paper's benchmark feeds its models.

    Item i: {"image": float32 [T*C, k, k], "mask": int64 [k, k] in {0,1}, "label": int64, "id": str}.
    Channels per step are `schema.input_channels(atmosphere)` in order; steps are stacked on the
    channel axis (dem repeated per step, read once). Values are z-scored with float32 math; NaN,
    the variable's `_FillValue` and phase no-data (exactly 0, LiCSAR's no-data) become 0 after
    normalisation, i.e. the mean; padding (frames smaller than the crop) is 0 too, mask 0. The
    mask is deformation_mask != 0 (deformation or earthquake), united over the steps.
    The crop (and augmentation) of index i is a function of (seed, epoch, i).
    """

    def __init__(
        self,
        pairs: pa.Table,
        series: pa.Table | None,
        statistics: Mapping[str, Any],
        cfg: LoaderConfig,
        *,
        store_opener: StoreOpener | None = None,
    ) -> None:
        self.cfg = cfg
        self.epoch = 0
        pairs = select_rows(pairs, None if cfg.series else cfg.split, cfg.usable_only and not cfg.series)
        series_length = cfg.series_length or schema.SERIES_LENGTH
        if cfg.series:
            if series is None:
                raise ValueError("series=True needs the series rows")
            series = select_rows(series, cfg.split, usable_only=False)
            self.samples: list[SampleSpec] = series_samples(series, pairs, series_length)
            self.rows = series
        else:
            self.samples = pair_samples(pairs)
            self.rows = pairs
        self.steps = series_length if cfg.series else 1
        self.step_channels = schema.input_channels(cfg.atmosphere)
        self.stats = _statistics_table(statistics, self.step_channels)
        means = [self.stats[v][0] for v in self.step_channels] * self.steps
        stds = [self.stats[v][1] for v in self.step_channels] * self.steps
        self._mean = torch.tensor(means, dtype=torch.float32).view(-1, 1, 1)
        self._inv_std = (1.0 / torch.tensor(stds, dtype=torch.float64)).to(torch.float32).view(-1, 1, 1)
        self.labels = np.array([s.label for s in self.samples], dtype=np.int64)
        self._cubes = CubeCache(store_opener)
        self._transform = None
        if cfg.augment:  # torchvision loads in seconds: only when augmenting
            from hephaestus.train.data.augment import build_transform

            self._transform = build_transform(cfg.augmentation, cfg.crop_size)

    @classmethod
    def from_catalog(cls, cfg: LoaderConfig, **kwargs: Any) -> MinicubeDataset:
        """Read the index (and statistics) of `cfg.store_url` through `hephaestus.catalog`."""
        from hephaestus import catalog

        if not cfg.store_url:
            raise ValueError("LoaderConfig.store_url is empty: the dataset needs a store with a catalog")
        # series: every pair a series names must be there, whatever its split or usability
        pairs = catalog.read_pairs(
            cfg.store_url,
            split=None if cfg.series else cfg.split,
            usable_only=cfg.usable_only and not cfg.series,
        )
        series = None
        if cfg.series:
            length = catalog.read_series_length(cfg.store_url, cfg.series_length)
            cfg = cfg.model_copy(update={"series_length": length})
            series = catalog.read_series(cfg.store_url, split=cfg.split)
        stats = (
            schema.AUTHORS_STATISTICS
            if cfg.statistics == "authors"
            else catalog.read_statistics(cfg.store_url)
        )
        return cls(pairs, series, stats, cfg, **kwargs)

    # -- size and channels ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.samples)

    @property
    def in_channels(self) -> int:
        return self.steps * len(self.step_channels)

    @property
    def channel_names(self) -> list[str]:
        if self.steps == 1:
            return list(self.step_channels)
        return [f"t{t}/{c}" for t in range(self.steps) for c in self.step_channels]

    def set_epoch(self, epoch: int) -> None:
        """Crops, augmentations and the undersampled index list all follow the epoch."""
        self.epoch = int(epoch)

    def epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of an epoch (undersampled / shuffled as configured)."""
        e = self.epoch if epoch is None else epoch
        return epoch_indices(self.labels, e, self.cfg.seed, self.cfg.undersample, self.cfg.shuffle)

    # -- reading ----------------------------------------------------------------------------
    def window(self, index: int) -> tuple[int, int, int, int]:
        """(row0, col0, height, width): the crop's top-left corner and the frame size."""
        spec = self.samples[index]
        cube = self._cubes.get(spec.steps[0].cube_url)
        rng = np.random.default_rng([self.cfg.seed, self.epoch, index])
        r0, c0 = place_window(
            cube.height,
            cube.width,
            self.cfg.crop_size,
            spec.bbox,
            self.cfg.max_offset,
            rng,
            self.cfg.offset_without_mask,
        )
        return r0, c0, cube.height, cube.width

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Normalised image [T*C, k, k] float32 and mask [k, k] int64 of sample `index`, not augmented."""
        spec = self.samples[index]
        k = self.cfg.crop_size
        r0, c0, h, w = self.window(index)
        cube = self._cubes.get(spec.steps[0].cube_url)
        rr1, cc1 = min(r0 + k, h), min(c0 + k, w)
        nch = len(self.step_channels)
        # np.empty: every pixel of the frame part is written below, only padding needs zeros
        # (a zeroed 9-27 MB buffer per crop costs more than a tenth of the whole read)
        image = np.empty((self.in_channels, k, k), dtype=np.float32)
        image[:, rr1 - r0 :, :] = 0.0
        image[:, :, cc1 - c0 :] = 0.0
        mask = np.zeros((k, k), dtype=np.int64)  # the model's target dtype, written once
        requests, targets = [], []
        dem = cube.whole_dem() if "dem" in self.step_channels else None
        if dem is not None:
            image[self.step_channels.index("dem"), : rr1 - r0, : cc1 - c0] = dem[r0:rr1, c0:cc1]
        for t, step in enumerate(spec.steps):
            for j, var in enumerate(self.step_channels):
                if var == "dem" and (t > 0 or dem is not None):
                    continue
                lead = () if var == "dem" else (step.primary_index, step.secondary_index)
                requests.append((cube.reader(var), Window(lead, r0, rr1, c0, cc1)))
                targets.append((t * nch + j, var))
            lead = (step.primary_index, step.secondary_index)
            requests.append((cube.reader(MASK_VARIABLE), Window(lead, r0, rr1, c0, cc1)))
            targets.append((-1, MASK_VARIABLE))
        first_mask = next(n for n, (channel, _) in enumerate(targets) if channel < 0)
        for n, piece, (rs, cs) in read_windows(requests, cube.fetcher):
            channel = targets[n][0]
            if channel >= 0:
                image[channel, rs, cs] = piece
            elif n == first_mask:
                np.not_equal(piece, 0, out=mask[rs, cs])
            else:
                mask[rs, cs] |= piece != 0  # union over the steps
        self._normalise(image[:, : rr1 - r0, : cc1 - c0], cube)
        return image, mask

    def _normalise(self, valid: np.ndarray, cube: Any) -> None:
        """In place on the frame part of the crop: z-score in float32, bad values -> 0, dem copied per step.

        NaN/inf, a variable's non-NaN `_FillValue` and phase no-data (exactly 0) become 0, i.e. the
        mean. Whole-crop torch ops for the arithmetic (one thread), numpy boolean indexing for the
        sparse fixes (several times faster than masked_fill_ here).
        """
        nch = len(self.step_channels)
        bad = []
        for j, var in enumerate(self.step_channels):
            nodata = cube.nodata_value(var)
            for step in range(self.steps):
                if var == "dem" and step > 0:
                    continue
                ch = valid[step * nch + j]
                if var == PHASE_VARIABLE:
                    bad.append((ch, ch == 0))
                if nodata is not None:
                    bad.append((ch, ch == nodata))
        t = torch.from_numpy(valid)
        t.sub_(self._mean).mul_(self._inv_std)
        for ch, where in bad:
            ch[where] = 0.0
        if not torch.isfinite(t.sum()):  # a read-only pass; rewrite only crops holding NaN/inf
            t.nan_to_num_(0.0, 0.0, 0.0)
        if self.steps > 1 and "dem" in self.step_channels:
            j = self.step_channels.index("dem")
            for step in range(1, self.steps):
                valid[step * nch + j] = valid[j]

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.samples):
            raise IndexError(f"sample {index} outside 0..{len(self.samples) - 1}")
        image_np, mask_np = self.read(index)
        image = torch.from_numpy(image_np)
        mask = torch.from_numpy(mask_np)
        if self._transform is not None:
            from hephaestus.train.data.augment import apply, augment_seed

            image, mask = apply(self._transform, image, mask, augment_seed(self.cfg.seed, self.epoch, index))
        spec = self.samples[index]
        return {
            "image": image,
            "mask": mask,
            "label": torch.tensor(spec.label, dtype=torch.int64),
            "id": spec.id,
        }

    def plot(self, sample: Mapping[str, Any]):  # type: ignore[no-untyped-def]
        """A Figure of the sample's steps (phase, coherence) with the mask outlined (paper Fig. 6)."""
        from hephaestus.train.data.plot import plot_sample

        return plot_sample(sample, self.channel_names, self.steps, len(self.step_channels))
