"""Which samples an epoch holds (undersampling) and how they split across ranks and workers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

Policy = Literal["pad", "drop"]


def epoch_indices(
    labels: np.ndarray, epoch: int, seed: int, undersample: bool = False, shuffle: bool = False
) -> np.ndarray:
    """Sample indices of one epoch.

    With `undersample`: every positive plus as many negatives drawn without replacement (all of
    them when there are fewer), redrawn each epoch from (seed, epoch); the result is shuffled.
    Without it: every index, shuffled when `shuffle`. Deterministic for a given (seed, epoch).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, epoch, 0x5EED])
    if not undersample:
        idx = np.arange(labels.size)
        return rng.permutation(idx) if shuffle else idx
    pos = np.flatnonzero(labels == 1)
    neg = np.flatnonzero(labels != 1)
    chosen = rng.choice(neg, size=min(pos.size, neg.size), replace=False)
    return rng.permutation(np.concatenate([pos, chosen]))


def shard_indices(
    indices: np.ndarray, rank: int, world_size: int, policy: Policy = "pad"
) -> tuple[np.ndarray, np.ndarray]:
    """This rank's share of an epoch's indices and a flag marking padding repeats.

    Ranks take every world_size-th index (rank r: r, r+W, ...). DDP needs the same number of
    batches on every rank: "pad" repeats indices from the start of the epoch, flagged True so
    metrics can drop them; "drop" leaves out the last len % world_size indices.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside world of size {world_size}")
    indices = np.asarray(indices, dtype=np.int64)
    n = indices.size
    if policy == "drop":
        total = n - n % world_size
        padded = np.zeros(total, dtype=bool)
        full = indices[:total]
    elif policy == "pad":
        total = -(-n // world_size) * world_size
        extra = total - n
        full = np.concatenate([indices, np.resize(indices, extra)]) if n else indices
        padded = np.concatenate([np.zeros(n, dtype=bool), np.ones(extra, dtype=bool)])
    else:
        raise ValueError(f"policy must be 'pad' or 'drop', not {policy!r}")
    return full[rank::world_size], padded[rank::world_size]


def worker_share(n: int, worker_id: int, num_workers: int) -> slice:
    """The DataLoader worker's share of a rank's list: every num_workers-th item."""
    return slice(worker_id, n, num_workers)


class ShardedEpoch(IterableDataset):
    """Iterates one rank's share of an epoch, split again across DataLoader workers.

    Yields the dataset's sample dicts plus "padding" (bool): True for the repeats added so every
    rank has the same count. Call `set_epoch(e)` before each epoch (workers are re-created per
    epoch unless persistent_workers, in which case use a fresh iterator per epoch).
    """

    def __init__(self, dataset, rank: int = 0, world_size: int = 1, policy: Policy = "pad") -> None:  # type: ignore[no-untyped-def]
        self.dataset = dataset
        self.rank, self.world_size, self.policy = rank, world_size, policy

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def rank_indices(self) -> tuple[np.ndarray, np.ndarray]:
        return shard_indices(self.dataset.epoch_indices(), self.rank, self.world_size, self.policy)

    def __len__(self) -> int:
        return int(self.rank_indices()[0].size)

    def __iter__(self) -> Iterator[dict]:
        idx, padded = self.rank_indices()
        info = get_worker_info()
        share = worker_share(idx.size, info.id, info.num_workers) if info else slice(None)
        for i, pad in zip(idx[share], padded[share], strict=True):
            item = self.dataset[int(i)]
            item["padding"] = torch.tensor(bool(pad))
            yield item
