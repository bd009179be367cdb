"""Streaming crop loader: catalog rows -> z-scored crops, masks and labels for training.

    cfg = LoaderConfig(store_url="s3://bucket/store", split="train", series=False, atmosphere=True,
                       augment=True, undersample=True, shuffle=True, seed=0)
    ds = MinicubeDataset.from_catalog(cfg)          # or MinicubeDataset(pairs, series, stats, cfg)
    loader = build_dataloader(ds, batch_size=8, plan=plan_loader("auto"))  # rank from Ray Train
    for epoch in range(90):
        loader.set_epoch(epoch)  # workers persist across epochs
        for batch in loader:  # image [B, C, 512, 512], mask [B, 512, 512], label [B], id, padding
            ...

This is the one data path of training (`hephaestus.train.loop` builds its loaders with
`build_dataloader`). The input itself (channels and order, statistics, no-data rule, crop size,
series length) is `hephaestus.platform.inputs.InputSpec`, shared with `hmc predict`; `read_input`
is the reader both use. Crops keep the mask box inside, shifted up to `max_offset` from centred and
clamped to the frame; frames without a mask are cropped around the frame centre with the same kind
of offset; smaller frames are padded with 0 (after z-scoring) and mask 0. Training crops and
augmentations are a function of (seed, epoch, index); evaluation crops (`fixed_crops`) of the
sample id only. Sharding: rank r takes every world_size-th index of the epoch, in batches that
DataLoader workers take in turn; policy "pad" repeats indices (flagged `padding`) so ranks get
equal counts, "drop" drops the tail. `plan_loader` splits the node's cores between training
threads and loader workers (prefetch, priority, persistent workers, pinned memory on CUDA).

There is no Ray Data path: crops and undersampling change every epoch, while a Ray Data dataset
handed to a `TorchTrainer` is fixed when the trainer starts, and each Ray Train worker already
reads its own shard in parallel (DataLoader workers). A second path would be a second set of rules
to keep equal.
"""

from hephaestus.train.data.config import AugmentConfig, LoaderConfig
from hephaestus.train.data.dataset import MinicubeDataset
from hephaestus.train.data.loader import EpochLoader, LoaderPlan, build_dataloader, current_rank, plan_loader
from hephaestus.train.data.read import read_input
from hephaestus.train.data.sampling import EpochBatches, EpochItems, epoch_indices, shard_indices

__all__ = [
    "AugmentConfig",
    "LoaderConfig",
    "MinicubeDataset",
    "EpochBatches",
    "EpochItems",
    "EpochLoader",
    "LoaderPlan",
    "build_dataloader",
    "current_rank",
    "epoch_indices",
    "plan_loader",
    "read_input",
    "shard_indices",
]
