"""The loading plan (cores split between training and loader workers) and loaders that persist across
epochs: a persistent worker must load exactly what in-process loading loads, epoch after epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loader_rows import STATS, make_cube, pair_rows

from hephaestus.train.data import LoaderConfig, LoaderPlan, MinicubeDataset, build_dataloader, plan_loader
from hephaestus.train.data.loader import LOADER_NICE, PREFETCH_BATCHES
from hephaestus.train.data.sampling import EpochBatches

pytestmark = pytest.mark.filterwarnings("ignore::zarr.errors.UnstableSpecificationWarning")


def test_plan_on_two_cpu_cores_trains_on_both_and_loads_at_low_priority():
    plan = plan_loader("auto", device_type="cpu", cores=2, load=0.0)
    assert (plan.torch_threads, plan.num_workers, plan.nice) == (2, 1, LOADER_NICE)
    assert plan.persistent_workers and plan.prefetch_factor == PREFETCH_BATCHES and not plan.pin_memory


@pytest.mark.parametrize("load,threads", [(0.0, 4), (0.9, 3), (1.0, 3), (2.5, 1), (3.5, 1), (40.0, 1)])
def test_training_threads_leave_busy_cores_alone(load, threads):
    # 4 cores: free = 4 - load, whole threads, at least one; a worker beside them needs no lower priority
    plan = plan_loader("auto", cores=4, load=load)
    assert plan.torch_threads == threads
    assert plan.nice == (LOADER_NICE if threads == 4 else 0)


def test_plan_shares_cores_between_ranks_and_gives_gpu_nodes_loaders():
    # 16 cores, 2 ranks: 8 each; on CUDA one drives the GPU and 7 load, pinned, at normal priority
    plan = plan_loader("auto", device_type="cuda", local_ranks=2, cores=16)
    assert (plan.num_workers, plan.nice, plan.pin_memory, plan.persistent_workers) == (7, 0, True, True)
    assert plan_loader("auto", device_type="cuda", cores=1).num_workers == 1
    # CPU, 8 cores, 2 ranks: 4 training threads each on an idle node, 3 with 2 cores busy elsewhere
    assert plan_loader("auto", cores=8, local_ranks=2, load=0.0).torch_threads == 4
    assert plan_loader("auto", cores=8, local_ranks=2, load=2.0).torch_threads == 3
    # an explicit 0 loads in the training process: no workers, nothing to lower or prefetch
    assert plan_loader(0, cores=2, load=0.0) == LoaderPlan(num_workers=0, torch_threads=2)
    # workers beside training threads that take every core run at low priority, not on a GPU node
    assert plan_loader(2, cores=4, load=0.0).nice == LOADER_NICE  # 4 threads + 2 workers > 4 cores
    assert plan_loader(2, device_type="cuda", cores=4).nice == 0
    with pytest.raises(ValueError, match="'auto' or a count"):
        plan_loader(-1)


class _Labels:
    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def epoch_indices(self, epoch=None):
        return np.arange(self.labels.size)


@pytest.mark.parametrize("n,batch,expected", [(9, 4, [4, 4]), (10, 4, [4, 4, 2]), (8, 4, [4, 4]), (1, 4, [])])
def test_lone_last_sample_is_dropped_only_when_asked(n, batch, expected):
    sampler = EpochBatches(_Labels([0] * n), batch, drop_lone_last=True)
    assert [len(b) for b in sampler] == expected
    assert len(sampler) == len(expected)
    keep = EpochBatches(_Labels([0] * n), batch)
    assert sum(len(b) for b in keep) == n


def _batches(loader) -> list[tuple[list[str], torch.Tensor]]:
    return [(list(b["id"]), b["image"].clone()) for b in loader]


def test_persistent_worker_follows_set_epoch_like_in_process_loading(tmp_path):
    ds, url = make_cube(tmp_path, "platform", n_primary=4, n_secondary=6, height=32, width=32, tile=16)
    rows = pair_rows(ds, url)
    cfg = LoaderConfig(
        store_url="u", crop_size=16, max_offset=8, augment=True, shuffle=True, seed=2, undersample=False
    )
    plan = plan_loader("auto", cores=2, load=0.0)
    persistent = build_dataloader(MinicubeDataset(rows, None, STATS, cfg), 4, rank=0, world_size=1, plan=plan)
    inline = build_dataloader(MinicubeDataset(rows, None, STATS, cfg), 4, rank=0, world_size=1)
    assert persistent.num_workers == 1 and persistent.persistent_workers and inline.num_workers == 0
    seen = []
    for epoch in (0, 1, 2):
        persistent.set_epoch(epoch)
        inline.set_epoch(epoch)
        got, want = _batches(persistent), _batches(inline)
        assert [ids for ids, _ in got] == [ids for ids, _ in want]
        for (_, a), (_, b) in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        seen.append([ids for ids, _ in got])
    assert seen[0] != seen[1] != seen[2]  # shuffled anew each epoch
