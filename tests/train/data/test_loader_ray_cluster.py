"""Ray Data reads crops on CPU-only worker nodes of a multi-node cluster (head has no CPUs)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from loader_rows import STATS

from hephaestus.platform.ray_session import cluster_node_args, connect_kwargs
from hephaestus.train.data import LoaderConfig, MinicubeDataset, ray_dataset

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning"),
]


def test_crops_are_read_on_worker_nodes(cubes, rows):  # type: ignore[no-untyped-def]
    import ray
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **cluster_node_args()})
    for _ in range(2):
        cluster.add_node(num_cpus=1, **cluster_node_args())
    try:
        ray.init(**connect_kwargs(cluster.address))
        cfg = LoaderConfig(store_url="u", crop_size=32, max_offset=8, seed=4)
        dataset = MinicubeDataset(rows["published"], None, STATS, cfg)
        out = ray_dataset(cfg, dataset=dataset, batch_size=1, concurrency=2, num_cpus=1).take_all()
        assert sorted(int(r["sample_index"]) for r in out) == list(range(len(dataset)))
        # the head has no CPUs: the 1-CPU CropReader actors can only have run on the worker nodes
        for r in out:
            direct = dataset[int(r["sample_index"])]
            np.testing.assert_array_equal(r["image"], direct["image"].numpy())
            np.testing.assert_array_equal(r["mask"], direct["mask"].numpy())
    finally:
        ray.shutdown()
        cluster.shutdown()
