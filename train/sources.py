"""Where training data comes from: a factory that gives a torch Dataset for one split of a run.

The training loop only sees `DatasetFactory(request) -> Dataset` whose samples are
`{"image": float32 [C, crop, crop], "mask": int64 [crop, crop], "label": int64, "id": str}` (the
loader contract). `CatalogSource` streams cubes through `hephaestus.train.data`; tests and
benchmarks plug in other sources (in-memory fringes) without touching the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from torch.utils.data import Dataset

from hephaestus.platform import schema
from hephaestus.train.config import RunConfig


@dataclass(frozen=True)
class DataRequest:
    """What the loop asks of a source: one split with the run's channels, crop and sampling."""

    split: str
    series: bool
    atmosphere: bool
    crop_size: int
    max_offset: int
    augment: bool
    undersample: bool
    seed: int
    series_length: int | None = None

    @classmethod
    def for_run(cls, run: RunConfig, split: str) -> DataRequest:
        training = split == "train"
        return cls(
            split=split,
            series=run.series,
            atmosphere=run.atmosphere,
            crop_size=run.crop_size,
            max_offset=run.max_offset,
            augment=run.augment and training,
            undersample=run.undersample and training,
            seed=run.seed,
            series_length=run.series_length,
        )


DatasetFactory = Callable[[DataRequest], Dataset]


class CatalogSource:
    """Streams minicubes of a store through the catalog (`MinicubeDataset.from_catalog`). Picklable."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url

    def __call__(self, request: DataRequest) -> Dataset:
        from hephaestus.train.data import LoaderConfig, MinicubeDataset

        cfg = LoaderConfig(
            store_url=self.store_url,
            split=request.split,
            series=request.series,
            atmosphere=request.atmosphere,
            crop_size=request.crop_size,
            max_offset=request.max_offset,
            augment=request.augment,
            undersample=request.undersample,
            shuffle=request.split == "train",
            seed=request.seed,
            series_length=request.series_length,
        )
        return MinicubeDataset.from_catalog(cfg)

    def fit(self, run: RunConfig) -> RunConfig:
        """`run` with the catalog's series length (recorded with the checkpoint for prediction); a series
        run that asks for another length is refused."""
        if not run.series:
            return run
        from hephaestus.catalog import read_series_length

        return run.model_copy(update={"series_length": read_series_length(self.store_url, run.series_length)})

    def check(self) -> None:
        """Fail before any worker starts when the store has no catalog or no training pairs."""
        from hephaestus import catalog
        from hephaestus.platform.storage import redact

        pairs = catalog.read_pairs(self.store_url, split="train")
        if pairs.num_rows == 0:
            raise ValueError(f"{redact(self.store_url)}: the catalog has no pairs in the train split")

    def __repr__(self) -> str:
        from hephaestus.platform.storage import redact

        return f"CatalogSource({redact(self.store_url)!r})"


def check_source(source: DatasetFactory) -> None:
    """Run a source's own up-front check (a missing catalog fails here, not in every worker)."""
    check = getattr(source, "check", None)
    if callable(check):
        check()


def in_channels(dataset: Dataset) -> int:
    """Channels of a dataset's images: its `in_channels`, else the first sample's."""
    value = getattr(dataset, "in_channels", None)
    if value:
        return int(value)
    return int(dataset[0]["image"].shape[0])


def statistics(dataset: Dataset) -> Mapping[str, tuple[float, float]]:
    """Normalisation statistics the dataset used (kept with checkpoints so prediction matches training)."""
    for name in ("statistics", "stats"):
        value = getattr(dataset, name, None)
        if isinstance(value, Mapping) and value:  # keyed by channel or by statistics key
            return {schema.statistics_key(k): (float(v[0]), float(v[1])) for k, v in value.items()}
    cfg = getattr(dataset, "cfg", None) or getattr(dataset, "config", None)
    store = getattr(cfg, "store_url", None)
    if store:
        try:
            from hephaestus.catalog import read_statistics

            return dict(read_statistics(store))
        except Exception:  # catalog without statistics: the authors' values, as the loader does
            pass
    return dict(schema.AUTHORS_STATISTICS)


def set_epoch(dataset: Dataset, epoch: int) -> None:
    """Tell an epoch-aware dataset (resampled negatives, crop offsets) which epoch starts."""
    hook = getattr(dataset, "set_epoch", None)
    if callable(hook):
        hook(epoch)
