"""Undersampling per epoch and sharding across ranks x DataLoader workers: every sample exactly once."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from loader_rows import STATS, make_cube, pair_rows

from hephaestus.train.data import (
    LoaderConfig,
    MinicubeDataset,
    build_dataloader,
    epoch_indices,
    shard_indices,
)

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


def test_undersampling_balances_and_reseeds():
    labels = np.array([1] * 7 + [0] * 40)
    seen = []
    for epoch in range(5):
        idx = epoch_indices(labels, epoch, seed=3, undersample=True)
        assert len(set(idx.tolist())) == idx.size == 14
        assert set(np.flatnonzero(labels == 1)) <= set(idx.tolist())
        assert int(labels[idx].sum()) == 7
        np.testing.assert_array_equal(idx, epoch_indices(labels, epoch, seed=3, undersample=True))
        seen.append(frozenset(idx.tolist()))
    assert len(set(seen)) == 5  # negatives redrawn each epoch
    assert not np.array_equal(epoch_indices(labels, 0, 3, True), epoch_indices(labels, 0, 4, True))
    # fewer negatives than positives: all of them
    assert epoch_indices(np.array([1, 1, 1, 0]), 0, 0, True).size == 4
    np.testing.assert_array_equal(epoch_indices(labels, 2, 0), np.arange(47))


@pytest.mark.parametrize("n,world", [(10, 3), (12, 4), (5, 8), (0, 2)])
def test_shard_indices_pad_and_drop(n, world):
    idx = np.arange(100, 100 + n)
    parts = [shard_indices(idx, r, world, "pad") for r in range(world)]
    assert len({p[0].size for p in parts}) == 1  # equal counts for DDP
    real = Counter(int(i) for p, pad in parts for i in p[~pad])
    assert real == Counter(idx.tolist())
    dropped = [shard_indices(idx, r, world, "drop")[0] for r in range(world)]
    flat = np.concatenate(dropped)
    assert len(set(flat.tolist())) == flat.size == n - n % world


def test_every_sample_exactly_once_across_ranks_and_workers(tmp_path):
    ds, url = make_cube(
        tmp_path, "platform", n_primary=4, n_secondary=6, height=32, width=32, tile=16, positive_every=4
    )
    rows = pair_rows(ds, url)
    n = rows.num_rows
    assert n == 6 + 4 + 2  # hand count: secondary dates after each primary in the factory grid
    cfg = LoaderConfig(store_url="u", crop_size=16, max_offset=4, undersample=True, seed=5, augment=False)
    dataset = MinicubeDataset(rows, None, STATS, cfg)
    for epoch in (0, 1):
        expected = Counter(str(rows["unique_id"][int(i)]) for i in dataset.epoch_indices(epoch))
        assert sum(expected.values()) == 2 * int(dataset.labels.sum())
        counted: Counter[str] = Counter()
        per_rank = []
        world = 3
        for rank in range(world):
            loader = build_dataloader(
                dataset, batch_size=2, epoch=epoch, rank=rank, world_size=world, num_workers=2
            )
            got = 0
            for batch in loader:
                assert batch["image"].shape[1:] == (9, 16, 16)
                got += len(batch["id"])
                for sid, pad in zip(batch["id"], batch["padding"].tolist(), strict=True):
                    if not pad:
                        counted[sid] += 1
            per_rank.append(got)
        assert counted == expected
        assert len(set(per_rank)) == 1


def test_build_dataloader_single_process_defaults(tmp_path):
    ds, url = make_cube(tmp_path, "published", height=32, width=32)
    dataset = MinicubeDataset(
        pair_rows(ds, url),
        None,
        STATS,
        LoaderConfig(store_url="u", crop_size=16, augment=False, undersample=False),
    )
    batches = list(build_dataloader(dataset, batch_size=4))
    assert sum(len(b["id"]) for b in batches) == len(dataset)
    assert all(not b["padding"].any() for b in batches)
    assert batches[0]["label"].dtype == torch.int64
