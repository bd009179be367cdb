"""Which samples an epoch holds (undersampling) and how they split across ranks and batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

Policy = Literal["pad", "drop"]

COVER_PROBABILITY = 0.5
"""Frame windows: the chance that a sample with a deformation mask gets a window covering it in an
epoch (the rest, and every sample without a mask, get a window anywhere in the frame). One half keeps
a positive pair's frame a source of both labels: its deformation, and its atmosphere elsewhere."""
_COVER_STREAM = 0xC0BE


def covering_windows(has_mask: np.ndarray, epoch: int, seed: int) -> np.ndarray:
    """Frame windows: which samples get a window covering their deformation in `epoch` (bool per sample).

    Sample i covers with probability `COVER_PROBABILITY` when `has_mask[i]`, never otherwise; drawn
    from (seed, epoch) in one vector so the dataset (placing the window) and the undersampling (counting
    the expected positives) agree. They are the expected positive windows of the epoch.
    """
    has_mask = np.asarray(has_mask, dtype=bool)
    draw = np.random.default_rng([seed, epoch, _COVER_STREAM]).random(has_mask.size)
    return has_mask & (draw < COVER_PROBABILITY)


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


class EpochBatches(Sampler[list[tuple[int, int, bool]]]):
    """One rank's share of each epoch, in batches of (epoch, index, padding) keys.

    It runs in the main process, so `set_epoch` reaches DataLoader workers that live across epochs
    (persistent workers keep their open cubes and start the next epoch without a fork): every key
    names the epoch its crop and augmentation belong to. The keys are the rank's indices in epoch
    order; a DataLoader hands whole batches to its workers in turn. "padding" is True for the
    repeats added so every rank has the same count. `drop_lone_last` leaves out a last batch of a
    single sample (BatchNorm refuses those in training).
    """

    def __init__(  # type: ignore[no-untyped-def]
        self,
        dataset,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        policy: Policy = "pad",
        drop_lone_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.rank, self.world_size, self.policy = rank, world_size, policy
        self.drop_lone_last = drop_lone_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def rank_indices(self) -> tuple[np.ndarray, np.ndarray]:
        indices = self.dataset.epoch_indices(self.epoch)
        return shard_indices(indices, self.rank, self.world_size, self.policy)

    def _count(self, n: int) -> int:
        batches = -(-n // self.batch_size)
        return batches - 1 if self.drop_lone_last and n % self.batch_size == 1 else batches

    def __len__(self) -> int:
        return self._count(int(self.rank_indices()[0].size))

    def __iter__(self) -> Iterator[list[tuple[int, int, bool]]]:
        idx, padded = self.rank_indices()
        keys = [(self.epoch, int(i), bool(p)) for i, p in zip(idx, padded, strict=True)]
        for b in range(self._count(len(keys))):
            yield keys[b * self.batch_size : (b + 1) * self.batch_size]


class EpochItems(Dataset):
    """A dataset addressed by (epoch, index, padding) keys: the sample of `index` as of `epoch`,
    flagged with "padding". Each DataLoader worker holds its own copy and moves it to the key's epoch."""

    def __init__(self, dataset) -> None:  # type: ignore[no-untyped-def]
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int, bool]) -> dict:
        epoch, index, pad = key
        self.dataset.set_epoch(epoch)
        item = self.dataset[index]
        item["padding"] = torch.tensor(pad)
        return item
