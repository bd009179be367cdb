"""Settings that size memory, checked against the data and the machine before Ray starts.

A crop larger than every frame of the store, a batch whose input tensors alone exceed a share of the
machine's memory, or more loader workers than cores would each start a run that swaps, thrashes or dies long
after the command returned: each is refused here in one line naming the setting, the value and the bound.
So are loader workers whose prefetched batches cannot fit in shared memory (`check_shared_memory`, on the
training node just before the workers start: torch's workers would die with a bus error mid-epoch).
"""

from __future__ import annotations

import os

from hephaestus.platform.errors import InputError
from hephaestus.platform.inputs import step_channels
from hephaestus.train.config import RunConfig

MEMORY_SHARE = 0.25
"""The most of the machine's memory one batch's input tensors (float32, per worker) may take: the model's
activations, gradients and the loader's prefetched batches need the rest (several times the inputs)."""


class SettingTooLargeError(InputError):
    """A run setting that sizes memory exceeds what the data or the machine can hold (CLI exit 2)."""


def machine_memory() -> int:
    """Physical memory of this machine in bytes (0 when unknown: the memory check is then skipped)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def largest_frame(store_url: str) -> int:
    """The largest side (pixels) of any frame in the store's catalog (0: the catalog lists none)."""
    import pyarrow.compute as pc

    from hephaestus.catalog import read_pairs

    pairs = read_pairs(store_url)
    sides = [pc.max(pairs[c]).as_py() for c in ("height", "width") if c in pairs.column_names]
    return max((int(s) for s in sides if s is not None), default=0)


def batch_bytes(run: RunConfig) -> int:
    """Bytes of one batch's input tensor: batch x steps x channels x crop x crop float32."""
    channels = len(step_channels(run.atmosphere)) * run.steps
    return run.batch_size * channels * run.crop_size * run.crop_size * 4


SHARED_MEMORY = "/dev/shm"
"""Where DataLoader workers put the batches they hand to the training process."""


def shared_memory_free(path: str = SHARED_MEMORY) -> int | None:
    """Bytes free for unprivileged use in the shared-memory file system (None: no such file system)."""
    try:
        stat = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    return stat.f_bavail * stat.f_frsize


def loader_batch_bytes(run: RunConfig) -> int:
    """Bytes of one batch as loader workers hand it over: the float32 inputs, the uint8 mask, and 256
    bytes a sample for the label, padding flag, augmentation parameters and id."""
    return batch_bytes(run) + run.batch_size * (run.crop_size * run.crop_size + 256)


def check_shared_memory(run: RunConfig, workers: int, prefetch: int | None, free: int | None = None) -> None:
    """Refuse loader `workers` (the run's resolved `loader_workers`) keeping `prefetch` batches each when
    those batches exceed the shared memory `free` (default: `shared_memory_free()`; None: not checked)."""
    if not workers or not prefetch:
        return
    free = shared_memory_free() if free is None else free
    need = workers * prefetch * loader_batch_bytes(run)
    if free is not None and need > free:
        setting = f"{workers}" if run.loader_workers == workers else f"{run.loader_workers} ({workers})"
        raise SettingTooLargeError(
            f"run {run.run_id}: loader_workers {setting} x prefetch_factor {prefetch} x batch_size "
            f"{run.batch_size} need {need / 2**30:.2f} GiB of shared memory ({SHARED_MEMORY}), "
            f"{free / 2**30:.2f} GiB free: lower one of them or enlarge {SHARED_MEMORY} (docker --shm-size)"
        )


def check_run(
    run: RunConfig, store_url: str | None, *, memory: int | None = None, cores: int | None = None
) -> None:
    """Refuse `run` when its crop exceeds the store's largest frame (`store_url` None: not checked), its
    batch's inputs exceed `MEMORY_SHARE` of `memory`, or its loader workers exceed `cores`."""
    if store_url is not None:
        side = largest_frame(store_url)
        if side and run.crop_size > side:
            raise SettingTooLargeError(
                f"run {run.run_id}: crop_size {run.crop_size} is larger than the store's largest frame "
                f"({side} px a side)"
            )
    memory = machine_memory() if memory is None else memory
    need = batch_bytes(run)
    if memory and need > MEMORY_SHARE * memory:
        raise SettingTooLargeError(
            f"run {run.run_id}: batch_size {run.batch_size} x crop_size {run.crop_size}^2 x "
            f"{len(step_channels(run.atmosphere)) * run.steps} channels needs {need / 2**30:.1f} GiB a batch, "
            f"more than {MEMORY_SHARE:.0%} of this machine's {memory / 2**30:.1f} GiB"
        )
    cores = (os.cpu_count() or 1) if cores is None else cores
    if isinstance(run.loader_workers, int) and run.loader_workers > cores:
        raise SettingTooLargeError(
            f"run {run.run_id}: loader_workers {run.loader_workers} is more than this machine's {cores} cores"
        )
