"""DataLoaders for one rank of a (Ray Train / DDP) job: every sample of an epoch exactly once."""

from __future__ import annotations

from torch.utils.data import DataLoader

from hephaestus.train.data.dataset import MinicubeDataset
from hephaestus.train.data.sampling import Policy, ShardedEpoch


def current_rank() -> tuple[int, int]:
    """(rank, world size) from Ray Train's context, else torch.distributed, else (0, 1)."""
    try:
        import ray.train

        ctx = ray.train.get_context()
        return int(ctx.get_world_rank()), int(ctx.get_world_size())
    except Exception:  # noqa: BLE001 - not inside a Ray Train worker
        pass
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def build_dataloader(
    dataset: MinicubeDataset,
    batch_size: int,
    *,
    epoch: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    num_workers: int = 0,
    policy: Policy = "pad",
    pin_memory: bool = False,
    drop_lone_last: bool = False,
) -> DataLoader:
    """A DataLoader over this rank's share of `epoch` (rank/world from the job when not given).

    Build one per epoch (or call `loader.dataset.set_epoch(e)` before iterating, without
    persistent workers). Batches carry "padding" flags for the repeats added by policy "pad".
    `drop_lone_last` drops a last batch of a single sample (BatchNorm refuses those in training).
    """
    if rank is None or world_size is None:
        rank, world_size = current_rank()
    dataset.set_epoch(epoch)
    sharded = ShardedEpoch(dataset, rank, world_size, policy)
    drop_last = drop_lone_last and len(sharded) % batch_size == 1
    return DataLoader(
        sharded, batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory, drop_last=drop_last
    )
