"""Ray Train workers consume the Ray Data path: every sample of the epoch reaches exactly one worker."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from loader_rows import STATS

from hephaestus.platform.ray_session import ray_session
from hephaestus.train.data import LoaderConfig, MinicubeDataset, ray_dataset

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning"),
]


def test_ray_train_workers_split_the_epoch(cubes, rows, tmp_path):
    import ray.train
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    cfg = LoaderConfig(store_url="u", crop_size=32, max_offset=8)
    dataset = MinicubeDataset(rows["platform"], None, STATS, cfg)
    out_dir = tmp_path / "seen"
    out_dir.mkdir()

    def loop(config: dict) -> None:
        shard = ray.train.get_dataset_shard("train")
        seen = []
        for batch in shard.iter_torch_batches(batch_size=2, collate_fn=None, dtypes=None):
            assert batch["image"].shape[1:] == (9, 32, 32)
            seen += [int(i) for i in batch["sample_index"]]
        rank = ray.train.get_context().get_world_rank()
        (config["out"] / f"rank{rank}.json").write_text(json.dumps(seen))

    with ray_session(num_cpus=2):
        ds = ray_dataset(cfg, dataset=dataset, batch_size=2, num_cpus=0.5).drop_columns(["id"])
        trainer = TorchTrainer(
            loop,
            train_loop_config={"out": out_dir},
            scaling_config=ScalingConfig(num_workers=2, use_gpu=False, resources_per_worker={"CPU": 0.5}),
            datasets={"train": ds},
            run_config=RunConfig(storage_path=str(tmp_path / "runs")),
        )
        trainer.fit()
    per_rank = [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(per_rank)  # both workers got data
    assert Counter(i for seen in per_rank for i in seen) == Counter(range(len(dataset)))
