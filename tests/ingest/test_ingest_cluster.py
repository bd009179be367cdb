"""Fault tolerance on a real multi-node Ray cluster (`ray.cluster_utils.Cluster`): a worker node is
killed in the middle of an ingest; the run completes and every array equals an undisturbed run."""

from __future__ import annotations

from pathlib import Path

import pytest
from cube_checks import content_hash

from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.platform.cube import open_cube
from hephaestus.platform.ray_session import cluster_node_args, connect_kwargs

pytestmark = pytest.mark.slow  # about a minute: three Ray nodes on 2 cores


def test_worker_node_killed_mid_ingest(synth_sources: Path, tmp_path: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **cluster_node_args()})
    workers = [cluster.add_node(num_cpus=1, **cluster_node_args()) for _ in range(2)]
    cluster.wait_for_nodes()
    killed: list[int] = []
    try:
        ray.init(**connect_kwargs(cluster.address))

        def kill_one(done: int, total: int) -> None:
            if done >= 1 and not killed:  # tasks are in flight on both nodes now
                cluster.remove_node(workers[0], allow_graceful=False)
                killed.append(done)

        cfg = IngestConfig(
            sources=str(synth_sources), out=str(tmp_path / "chaos"), pairs_per_task=1, workers=2
        )
        disturbed = run_ingest(cfg, progress=kill_one)
        assert killed and killed[0] < disturbed.tasks_run + 1
        assert disturbed.ok, disturbed.frames_failed
        calm = run_ingest(cfg.model_copy(update={"out": str(tmp_path / "calm")}))
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert disturbed.pairs_written == calm.pairs_written > 0
    for url in calm.cube_urls:
        name = Path(url).name
        assert content_hash(open_cube(tmp_path / "chaos" / "cubes" / name).load()) == content_hash(
            open_cube(url).load()
        )
