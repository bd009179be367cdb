"""Where training data comes from: a typed source that gives the dataset of one split of a run.

The training loop sees only the two protocols below. A `DataSource` turns a request, the
`LoaderConfig` of one split of the run (`LoaderConfig.for_split(run, split)`: the run's data
specification plus the split's rules; its `store_url` left empty for the source to fill), into a
`TrainingData`: a map-style dataset whose samples are
`{"image": float32 [C, crop, crop], "mask": int64 [crop, crop], "label": int64, "id": str}`, which
knows its input specification (saved with every checkpoint, used again by `hmc predict`) and its
epoch's sample order. `CatalogSource` streams cubes through `hephaestus.train.data`; tests plug in
other sources (in-memory fringes, tests/train/fringes.py) without touching the loop.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from hephaestus.platform.inputs import InputSpec
from hephaestus.platform.storage import normalize, redact
from hephaestus.train.config import RunConfig
from hephaestus.train.data.config import LoaderConfig


@runtime_checkable
class TrainingData(Protocol):
    """A dataset the training loop can use."""

    input_spec: InputSpec

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...

    def set_epoch(self, epoch: int) -> None:
        """Crops, augmentations and the sampled indices follow the epoch."""

    def epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        """The epoch's sample indices (undersampled and shuffled for training, in order otherwise)."""


@runtime_checkable
class DataSource(Protocol):
    """A picklable factory of datasets (it travels to every Ray Train worker)."""

    def __call__(self, request: LoaderConfig) -> TrainingData: ...

    def check(self) -> None:
        """Fail before any worker starts when the data cannot serve a run (no catalog, no pairs)."""


class CatalogSource:
    """Streams minicubes of a store through the catalog (`MinicubeDataset.from_catalog`). Picklable."""

    def __init__(self, store_url: str) -> None:
        # absolute: Ray workers run in their own working directory, where a relative path means nothing
        self.store_url = normalize(store_url)

    def loader_config(self, request: LoaderConfig) -> LoaderConfig:
        """`request` reading this source's store."""
        return request.model_copy(update={"store_url": self.store_url})

    def __call__(self, request: LoaderConfig) -> TrainingData:
        from hephaestus.train.data import MinicubeDataset

        return MinicubeDataset.from_catalog(self.loader_config(request))

    def fit(self, run: RunConfig) -> RunConfig:
        """`run` with the catalog's series length (recorded with the checkpoint for prediction); a series
        run that asks for another length is refused."""
        if not run.series:
            return run
        from hephaestus.catalog import read_series_length

        return run.model_copy(update={"series_length": read_series_length(self.store_url, run.series_length)})

    def check(self) -> None:
        """Fail before any worker starts when the store has no catalog, no training pairs or a listed cube
        that cannot be opened."""
        from hephaestus import catalog

        pairs = catalog.read_pairs(self.store_url, split="train")
        if pairs.num_rows == 0:
            raise ValueError(f"{redact(self.store_url)}: the catalog has no pairs in the train split")
        from hephaestus.train.cubes_preflight import check_cubes

        check_cubes(self.store_url)  # a deleted cube is refused here, not after an epoch inside Ray

    def __repr__(self) -> str:
        return f"CatalogSource({redact(self.store_url)!r})"


def open_split(source: DataSource, request: LoaderConfig) -> TrainingData:
    """The source's dataset for `request`, refused when it does not follow the `TrainingData` protocol."""
    dataset = source(request)
    if not isinstance(dataset, TrainingData):
        raise TypeError(
            f"{source!r} gave a {type(dataset).__name__} for split {request.split}: not a TrainingData "
            "(needs input_spec, __len__, __getitem__, set_epoch, epoch_indices)"
        )
    return dataset
