"""Streaming crop loader: catalog rows -> z-scored crops, masks and labels for training."""

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
