"""The Ray Data path yields the same samples as the direct path (local Ray, 2 CPUs)."""

from __future__ import annotations

import numpy as np
import pytest
from loader_rows import STATS

from hephaestus.platform.ray_session import ray_session
from hephaestus.train.data import LoaderConfig, MinicubeDataset, ray_dataset

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


def test_ray_data_matches_direct_reads(cubes, rows):
    cfg = LoaderConfig(store_url="u", crop_size=32, max_offset=8, undersample=True, seed=2)
    dataset = MinicubeDataset(rows["platform"], None, STATS, cfg)
    epoch = 1
    expected_order = dataset.epoch_indices(epoch)
    with ray_session(num_cpus=2):
        out = ray_dataset(cfg, epoch=epoch, dataset=dataset, batch_size=2).take_all()
    assert sorted(int(r["sample_index"]) for r in out) == sorted(expected_order.tolist())
    dataset.set_epoch(epoch)
    for r in out:
        direct = dataset[int(r["sample_index"])]
        assert r["id"] == direct["id"]
        np.testing.assert_array_equal(r["image"], direct["image"].numpy())
        np.testing.assert_array_equal(r["mask"], direct["mask"].numpy())
        assert int(r["label"]) == int(direct["label"])
    labels = [int(r["label"]) for r in out]
    assert sum(labels) * 2 == len(labels)  # undersampled: as many negatives as positives
