"""An in-memory source of physically shaped samples: Mogi-source fringes over turbulent atmosphere.

For tests and benchmarks that must run before (or without) cubes: positives carry the wrapped
line-of-sight phase of a point pressure source (Mogi 1958), negatives only correlated atmospheric
noise. Samples follow the loader contract and are a pure function of (seed, split, index).
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Mapping

import numpy as np
import ray.cloudpickle
import torch
from torch.utils.data import Dataset

from hephaestus.platform import schema
from hephaestus.platform.dataspec import DataSpec
from hephaestus.platform.inputs import ATMOSPHERE_CHANNELS, InputSpec
from hephaestus.train.data.config import LoaderConfig

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers cannot import test modules


def _smooth_noise(rng: np.random.Generator, size: int, scale: float) -> np.ndarray:
    """Spatially correlated noise (low-pass filtered white noise), unit-ish amplitude."""
    white = rng.normal(size=(size, size))
    freq = np.fft.fftfreq(size)
    kx, ky = np.meshgrid(freq, freq)
    spectrum = np.fft.fft2(white) * np.exp(-((kx**2 + ky**2) * (size / scale) ** 2))
    field = np.real(np.fft.ifft2(spectrum))
    return field / (field.std() + 1e-9)


def mogi_phase(size: int, row: float, col: float, depth_px: float, volume_m3: float) -> np.ndarray:
    """Unwrapped LOS phase (radians) of a Mogi source, vertical displacement only, 111 m pixels."""
    pixel_m = 111.0
    yy, xx = np.mgrid[0:size, 0:size]
    r2 = ((yy - row) ** 2 + (xx - col) ** 2) * pixel_m**2
    d = depth_px * pixel_m
    uz = (3 * volume_m3 / (4 * np.pi)) * d / (r2 + d**2) ** 1.5
    return 4 * np.pi / schema.C_BAND_WAVELENGTH_M * uz


class FringeDataset(Dataset):
    """`n` samples of `crop_size` px; every second sample (by a seeded draw) is positive."""

    def __init__(
        self,
        n: int,
        crop_size: int = 64,
        atmosphere: bool = True,
        series: bool = False,
        seed: int = 0,
        split: str = "train",
        positive_fraction: float = 0.5,
    ) -> None:
        self.n = n
        self.crop_size = crop_size
        self.atmosphere = atmosphere
        self.series = series
        self.seed = seed
        self.split = split
        self.positive_fraction = positive_fraction
        self.epoch = 0
        self.steps = schema.SERIES_LENGTH if series else 1
        self.input_spec = InputSpec.create(
            DataSpec(atmosphere=atmosphere, series=series, crop_size=crop_size, statistics="authors")
        )

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        """Every sample, shuffled per epoch for training, in order for evaluation."""
        e = self.epoch if epoch is None else epoch
        order = np.arange(self.n)
        return np.random.default_rng([self.seed, e]).permutation(order) if self.split == "train" else order

    def _rng(self, index: int) -> np.random.Generator:
        key = zlib.crc32(f"{self.split}:{index}".encode())
        return np.random.default_rng([self.seed, key])

    def is_positive(self, index: int) -> bool:
        return bool(self._rng(index).random() < self.positive_fraction)

    def __getitem__(self, index: int) -> dict[str, object]:
        if not 0 <= index < self.n:
            raise IndexError(index)
        rng = self._rng(index)
        positive = rng.random() < self.positive_fraction
        size = self.crop_size
        mask = np.zeros((size, size), dtype=np.int64)
        deformation = np.zeros((size, size))
        if positive:
            row, col = rng.uniform(0.3, 0.7, 2) * size
            depth = rng.uniform(0.08, 0.15) * size
            peak_uplift_m = rng.uniform(0.05, 0.12)  # 2 to 4 fringes at the centre
            volume = peak_uplift_m * 4 * np.pi * (depth * 111.0) ** 2 / 3
            deformation = mogi_phase(size, row, col, depth, volume)
            mask = (deformation > np.pi).astype(np.int64)  # at least half a fringe of motion
            positive = bool(mask.any())
        dem = _smooth_noise(rng, size, 8.0)
        steps = []
        for _ in range(self.steps):
            atmo = 0.7 * _smooth_noise(rng, size, 12.0)
            phase = np.angle(np.exp(1j * (deformation + atmo + 0.3 * rng.normal(size=(size, size)))))
            coherence = np.clip(0.6 + 0.2 * rng.normal(size=(size, size)), 0, 1) * 255
            channels = [
                (phase - schema.AUTHORS_STATISTICS["insar_difference"][0])
                / schema.AUTHORS_STATISTICS["insar_difference"][1],
                (coherence - schema.AUTHORS_STATISTICS["insar_coherence"][0])
                / schema.AUTHORS_STATISTICS["insar_coherence"][1],
                dem,
            ]
            if self.atmosphere:
                channels += [0.3 * atmo + 0.1 * rng.normal() for _ in ATMOSPHERE_CHANNELS]
            steps.extend(channels)
        image = np.stack(steps).astype(np.float32)
        return {
            "image": torch.from_numpy(image),
            "mask": torch.from_numpy(mask),
            "label": torch.tensor(int(positive), dtype=torch.int64),
            "id": f"fringe-{self.split}-{index}",
        }


class FringeSource:
    """A DataSource of fringe datasets with fixed split sizes (picklable for Ray workers)."""

    def __init__(self, sizes: Mapping[str, int] | None = None, seed: int = 0) -> None:
        self.sizes = dict(sizes or {"train": 96, "val": 32, "test": 64})
        self.seed = seed

    def __call__(self, request: LoaderConfig) -> Dataset:
        return FringeDataset(
            self.sizes[request.split],
            crop_size=request.crop_size,
            atmosphere=request.atmosphere,
            series=request.series,
            seed=self.seed * 1000 + request.seed,
            split=request.split,
        )

    def check(self) -> None:
        """Always ready: the samples are drawn in memory."""
