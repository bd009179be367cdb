"""Streaming crop loader: catalog rows -> z-scored crops, masks and labels for training.

    cfg = LoaderConfig(store_url="s3://bucket/store", split="train", series=False, atmosphere=True,
                       augment=True, undersample=True, seed=0)
    ds = MinicubeDataset.from_catalog(cfg)          # or MinicubeDataset(pairs, series, stats, cfg)
    for epoch in range(90):
        loader = build_dataloader(ds, batch_size=8, epoch=epoch, num_workers=4)  # rank from Ray Train
        for batch in loader:  # image [B, C, 512, 512], mask [B, 512, 512], label [B], id, padding
            ...

Policies (see the modules): crops keep the mask box inside, shifted up to `max_offset` from centred
and clamped to the frame; frames without a mask are cropped around the frame centre; smaller frames
are padded with 0 (after z-scoring) and mask 0. NaN/inf, `_FillValue` and phase no-data (exactly 0)
become 0 after z-scoring. Every crop and augmentation is a function of (seed, epoch, index).
Sharding: rank r takes every world_size-th index of the epoch, DataLoader workers split that again;
policy "pad" repeats indices (flagged `padding`) so ranks get equal counts, "drop" drops the tail.
Ray Data: `ray_dataset(cfg, epoch=e)` -> `TorchTrainer(datasets={"train": ...})`, consumed with
`ray.train.get_dataset_shard("train").iter_torch_batches(...)` (drop the string "id" column first).
"""

from hephaestus.train.data.config import AugmentConfig, LoaderConfig
from hephaestus.train.data.dataset import MinicubeDataset
from hephaestus.train.data.loader import build_dataloader, current_rank
from hephaestus.train.data.ray_data import ray_dataset
from hephaestus.train.data.sampling import ShardedEpoch, epoch_indices, shard_indices

__all__ = [
    "AugmentConfig",
    "LoaderConfig",
    "MinicubeDataset",
    "ShardedEpoch",
    "build_dataloader",
    "current_rank",
    "epoch_indices",
    "ray_dataset",
    "shard_indices",
]
