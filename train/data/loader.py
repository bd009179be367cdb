"""DataLoaders for one rank of a (Ray Train / DDP) job: every sample of an epoch exactly once, with
the split of the machine's cores between training and loading chosen from the machine.

Why a plan: on a CPU node, training compute and loader workers compete for the same cores.
- Training threads: torch's intra-op (OpenMP) team waits at every parallel region for its slowest
  thread, so it only pays when its threads can run at once. On an idle node the rank takes all of
  its cores; on a node already busy with other work (load average), only the cores left free, at
  least one (measured on 2 busy cores: 2 threads trained 15x slower than 1).
- Loader workers: one process, so loading overlaps with compute. When training takes every core,
  the worker runs at the lowest scheduling priority (`LOADER_NICE`): it gets the cycles training
  leaves idle (Python steps, the optimiser, gaps between parallel regions) and, when its queue runs
  dry, training waits and the worker gets the cores: about as fast as loading in the training
  process at worst, faster when there are idle cycles. When a core is left over, it runs there.
- Workers persist across epochs (open cubes stay open) and keep `PREFETCH_BATCHES` batches ready.
On a GPU the cores are split without oversubscription: "auto" gives every core but one to loading,
the training process runs on the cores the workers leave (at least one thread), and batches go to
pinned memory for asynchronous copies (the loop's `DeviceBatches`). Masks travel as uint8
(`collate_batch`: 8x less shared memory and copy than int64); the loop widens them on the device.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Literal

import torch
from torch.utils.data import DataLoader, default_collate

from hephaestus.train.config import PREFETCH_BATCHES as PREFETCH_BATCHES  # the run setting's default
from hephaestus.train.data.sampling import EpochBatches, EpochItems, Policy

Workers = int | Literal["auto"]
"""Loader worker processes per rank: a count (0 loads in the training process) or "auto" (`plan_loader`)."""

LOADER_NICE = 19
"""Scheduling niceness of loader workers on CPU nodes when training takes every core."""
MASK_DTYPE = torch.uint8
"""The dtype masks travel in through the DataLoader (values 0/1): the loop widens them on the device."""


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask: containers and `taskset` narrow it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def busy_cores(samples: int = 10, interval: float = 0.05) -> float:
    """Cores other work keeps busy now: the smaller of the 1-minute load average and the median count
    of other runnable threads over `samples` looks (/proc/stat), so that neither a stale average
    (this process's own earlier work) nor a momentary burst decides alone. 0 where unknown."""
    try:
        average = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0
    counts = []
    try:
        for i in range(samples):
            with open("/proc/stat") as fh:
                running = next(int(line.split()[1]) for line in fh if line.startswith("procs_running"))
            counts.append(max(0, running - 1))  # this thread is one of them
            if i + 1 < samples:
                time.sleep(interval)
    except (OSError, StopIteration, ValueError):
        return average
    counts.sort()
    return min(average, float(counts[len(counts) // 2]))


@dataclass(frozen=True)
class LoaderPlan:
    """How one rank loads: worker processes, their priority and prefetch, and the training threads."""

    num_workers: int
    torch_threads: int
    nice: int = 0
    prefetch_factor: int | None = None
    persistent_workers: bool = False
    pin_memory: bool = False

    def describe(self) -> str:
        loading = "in the training process" if self.num_workers == 0 else f"{self.num_workers} worker(s)"
        extra = f", nice {self.nice}" if self.nice else ""
        return f"{self.torch_threads} training thread(s), loading {loading}{extra}"


def plan_loader(
    workers: Workers = "auto",
    *,
    device_type: str = "cpu",
    local_ranks: int = 1,
    cores: int | None = None,
    load: float | None = None,
    prefetch: int = PREFETCH_BATCHES,
) -> LoaderPlan:
    """The loading plan of one rank among `local_ranks` training processes sharing `cores`.

    CPU: the rank trains on its share of the cores that `load` (other work, default: `busy_cores()`)
    leaves free, at least one thread; "auto" adds one loader worker, at
    `LOADER_NICE` when training takes the rank's every core. CUDA: "auto" gives all but one core
    of the share to loader workers (at least one), pinned; the training process takes the cores the
    workers leave, at least one thread (workers + threads never exceed the share unless the share
    is a single core). A count replaces "auto"'s; 0 loads in the training process. `prefetch`:
    batches each worker keeps ready (the run's `prefetch_factor`).
    """
    cores = available_cores() if cores is None else cores
    ranks = max(1, local_ranks)
    share = max(1, cores // ranks)
    cuda = device_type == "cuda"
    if workers == "auto":
        workers = max(1, share - 1) if cuda else 1
    elif not isinstance(workers, int) or workers < 0:
        raise ValueError(f"loader workers must be 'auto' or a count >= 0, got {workers!r}")
    if cuda:
        threads = max(1, share - workers)
    else:
        busy = busy_cores() if load is None else load
        threads = max(1, min(share, int((cores - busy) // ranks)))
    nice = LOADER_NICE if (not cuda and workers and workers + threads > share) else 0
    return LoaderPlan(
        num_workers=workers,
        torch_threads=threads,
        nice=nice,
        prefetch_factor=prefetch if workers else None,
        persistent_workers=workers > 0,
        pin_memory=cuda,
    )


def collate_batch(items: list[dict]) -> dict:
    """torch's default collation, with each sample's mask narrowed to `MASK_DTYPE` first: the batch
    crosses shared memory and the host-to-device copy 8x smaller than as int64 (values are 0/1)."""
    for item in items:
        mask = item.get("mask")
        if isinstance(mask, torch.Tensor) and mask.dtype != MASK_DTYPE:
            item["mask"] = mask.to(MASK_DTYPE)
    return default_collate(items)


class _WorkerInit:
    """Lowers a loader worker's priority (picklable for spawn contexts)."""

    def __init__(self, nice: int) -> None:
        self.nice = nice

    def __call__(self, worker_id: int) -> None:
        if self.nice:
            os.nice(self.nice)


class EpochLoader(DataLoader):
    """A DataLoader over one rank's share that moves to another epoch with `set_epoch`, keeping its
    (persistent) workers: build it once per run and split, not once per epoch."""

    def set_epoch(self, epoch: int) -> None:
        self.batch_sampler.set_epoch(epoch)  # type: ignore[union-attr]


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
    dataset,  # type: ignore[no-untyped-def]
    batch_size: int,
    *,
    epoch: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    num_workers: int = 0,
    policy: Policy = "pad",
    pin_memory: bool = False,
    drop_lone_last: bool = False,
    plan: LoaderPlan | None = None,
) -> EpochLoader:
    """A DataLoader over this rank's share of `epoch` (rank/world from the job when not given).

    Either build one per epoch, or one per run and call `loader.set_epoch(e)` before each epoch:
    the sampler runs in this process and tells workers each sample's epoch, so persistent workers
    stay right. `plan` (from `plan_loader`) sets workers, priority, prefetch, persistence and
    pinning; without it, `num_workers` and `pin_memory` do. Batches carry "padding" flags for the
    repeats added by policy "pad", and masks as `MASK_DTYPE`. `drop_lone_last` drops a last batch
    of a single sample.
    """
    if rank is None or world_size is None:
        rank, world_size = current_rank()
    if plan is None:
        plan = LoaderPlan(
            num_workers=num_workers, torch_threads=torch.get_num_threads(), pin_memory=pin_memory
        )
    batches = EpochBatches(dataset, batch_size, rank, world_size, policy, drop_lone_last)
    batches.set_epoch(epoch)
    workers = plan.num_workers
    return EpochLoader(
        EpochItems(dataset),
        batch_sampler=batches,
        collate_fn=collate_batch,
        num_workers=workers,
        pin_memory=plan.pin_memory,
        prefetch_factor=plan.prefetch_factor if workers else None,
        persistent_workers=plan.persistent_workers and workers > 0,
        worker_init_fn=_WorkerInit(plan.nice) if workers and plan.nice else None,
    )
