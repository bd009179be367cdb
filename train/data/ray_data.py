"""Ray Data path: the epoch's index rows as a ray.data.Dataset, crops read in parallel on CPU nodes.

A training worker consumes it with

    ds = ray_dataset(cfg, epoch=e)
    trainer = TorchTrainer(loop, datasets={"train": ds}, ...)
    # in loop:
    for batch in ray.train.get_dataset_shard("train").iter_torch_batches(batch_size=8):
        batch["image"], batch["mask"], batch["label"]

Ray Data streams blocks to the training workers and splits them without duplicates; the crop
reading runs in `map_batches` tasks wherever CPUs are (CPU-only nodes included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.data.dataset import MinicubeDataset


class CropReader:
    """Callable for `map_batches`: holds one dataset (and its open cubes) per Ray worker process."""

    def __init__(self, dataset: MinicubeDataset, epoch: int) -> None:
        self.dataset = dataset
        self.dataset.set_epoch(epoch)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [self.dataset[int(i)] for i in batch["sample_index"]]
        return {
            "image": np.stack([it["image"].numpy() for it in items]),
            "mask": np.stack([it["mask"].numpy() for it in items]),
            "label": np.array([int(it["label"]) for it in items], dtype=np.int64),
            "id": np.array([it["id"] for it in items], dtype=object),
            "sample_index": np.asarray(batch["sample_index"], dtype=np.int64),
        }


def ray_dataset(
    cfg: LoaderConfig,
    *,
    epoch: int = 0,
    dataset: MinicubeDataset | None = None,
    batch_size: int = 4,
    concurrency: int | tuple[int, int] | None = None,
    num_cpus: float = 1.0,
    rows_per_block: int | None = None,
):  # type: ignore[no-untyped-def]
    """The epoch's samples as a ray.data.Dataset with columns image, mask, label, id, sample_index.

    Built from the index rows (`ray.data.from_arrow`); `dataset` defaults to
    `MinicubeDataset.from_catalog(cfg)`. Each map task reads `batch_size` crops; the index is cut
    into blocks of `rows_per_block` rows (default: `batch_size`) so that `concurrency` actors,
    wherever the CPUs are, share the work.
    """
    import ray.data

    ds = dataset if dataset is not None else MinicubeDataset.from_catalog(cfg)
    order = ds.epoch_indices(epoch)
    rows = ds.rows.take(pa.array(order, type=pa.int64()))
    rows = _plain(rows).append_column("sample_index", pa.array(order, type=pa.int64()))
    kwargs: dict[str, Any] = {"fn_constructor_kwargs": {"dataset": ds, "epoch": epoch}, "num_cpus": num_cpus}
    kwargs["concurrency"] = concurrency if concurrency is not None else 1
    # several blocks, so that map tasks on several nodes/actors read crops in parallel
    step = max(1, rows_per_block or batch_size)
    blocks = [rows.slice(i, step) for i in range(0, rows.num_rows, step)] or [rows]
    return ray.data.from_arrow(blocks).map_batches(
        CropReader, batch_size=batch_size, batch_format="numpy", **kwargs
    )


def _plain(table: pa.Table) -> pa.Table:
    """Index rows with the columns Ray Data needs to carry (ids and keys only, no captions)."""
    keep: Mapping[str, None] = dict.fromkeys(
        c for c in ("unique_id", "series_id", "frame_id", "cube_url", "positive") if c in table.column_names
    )
    return table.select(list(keep))
