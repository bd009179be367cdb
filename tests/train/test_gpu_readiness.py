"""GPU readiness (issue 26, item 3), checked on CPU: the shared-memory bound, the core split, uint8 masks
through the loader, losses read from the device once per interval, CPU results as before, NVML absent."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import pytest
import torch
from fringes import FringeSource

from hephaestus.platform.errors import InputError
from hephaestus.train.config import RunConfig
from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.data.loader import MASK_DTYPE, LoaderPlan, build_dataloader, plan_loader
from hephaestus.train.gpu_usage import GpuBusy, inventory
from hephaestus.train.loop import DeviceSums, evaluate, make_loader, train_epoch
from hephaestus.train.losses import make_loss
from hephaestus.train.models import build_model
from hephaestus.train.preflight import check_shared_memory, loader_batch_bytes

CPU = torch.device("cpu")


def _run(**changes: object) -> RunConfig:
    values: dict = dict(model="unet", encoder="resnet18", crop_size=32, batch_size=4, weights="random")
    values.update(augment=False, loader_workers=0, lr=1e-3)
    return RunConfig(**{**values, **changes})


def test_shared_memory_bound_is_one_line_naming_the_settings() -> None:
    run = _run(crop_size=512, batch_size=16, loader_workers=15)
    per_batch = 16 * 9 * 512 * 512 * 4 + 16 * (512 * 512 + 256)  # float32 inputs, uint8 mask, the rest
    assert loader_batch_bytes(run) == per_batch
    check_shared_memory(run, 15, 4, free=15 * 4 * per_batch)  # exactly fits
    with pytest.raises(InputError) as caught:
        check_shared_memory(run, 15, 4, free=2 * 2**30)
    message = str(caught.value)
    assert "\n" not in message
    for name in ("loader_workers 15", "prefetch_factor 4", "batch_size 16", "/dev/shm"):
        assert name in message
    check_shared_memory(run, 0, None, free=0)  # no workers: nothing goes through shared memory
    auto = _run(crop_size=512, batch_size=16, loader_workers="auto")
    with pytest.raises(InputError, match=r"loader_workers auto \(7\) x prefetch_factor 2"):
        check_shared_memory(auto, 7, 2, free=1)


def test_make_loader_checks_shared_memory_before_workers_start(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run = _run(loader_workers=1, prefetch_factor=3)
    data = FringeSource({"train": 8, "val": 0, "test": 0})(LoaderConfig.for_split(run, "train"))
    plan = LoaderPlan(num_workers=1, torch_threads=1, prefetch_factor=3, persistent_workers=True)
    import hephaestus.train.preflight as preflight

    monkeypatch.setattr(preflight, "shared_memory_free", lambda path=preflight.SHARED_MEMORY: 1000)
    with pytest.raises(InputError, match="prefetch_factor 3"):
        make_loader(data, run, CPU, training=True, plan=plan)


def test_cuda_plan_splits_cores_without_oversubscription() -> None:
    for cores in (1, 2, 4, 16):
        for workers in ("auto", 0, 2, 8):
            plan = plan_loader(workers, device_type="cuda", cores=cores)
            assert plan.torch_threads >= 1
            if cores > 1 and plan.num_workers < cores:
                assert plan.num_workers + plan.torch_threads == cores, (cores, workers, plan)
    assert plan_loader("auto", device_type="cuda", cores=16).torch_threads == 1  # 15 workers
    assert plan_loader(4, device_type="cuda", cores=16).torch_threads == 12
    assert plan_loader("auto", device_type="cuda", cores=16, local_ranks=2).torch_threads == 1  # 8 a rank
    assert plan_loader(2, device_type="cuda", cores=16, prefetch=6).prefetch_factor == 6


def test_masks_travel_as_uint8_and_widen_on_the_device() -> None:
    run = _run()
    data = FringeSource({"train": 6, "val": 0, "test": 0})(LoaderConfig.for_split(run, "train"))
    assert data[0]["mask"].dtype == torch.int64  # the dataset's samples are unchanged
    batch = next(iter(build_dataloader(data, 4, rank=0, world_size=1)))
    assert batch["mask"].dtype == MASK_DTYPE == torch.uint8
    expected = torch.stack([data[int(i.rsplit("-", 1)[1])]["mask"] for i in batch["id"]])
    assert torch.equal(batch["mask"].long(), expected)
    assert batch["label"].dtype == torch.int64 and batch["padding"].dtype == torch.bool


class _Reads(torch.Tensor):
    """A loss tensor that counts how often its values are read on the host."""

    reads = 0

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func in (torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__float__, torch.Tensor.__bool__):
            _Reads.reads += 1
        return super().__torch_function__(func, types, args, kwargs or {})


class _CountingLoss(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.inner(logits, target).as_subclass(_Reads)


def _setup(seed: int = 0):  # type: ignore[no-untyped-def]
    run = _run(model="mobilenetv3_large_100", batch_size=2)
    data = FringeSource({"train": 12, "val": 6, "test": 0})
    train = data(LoaderConfig.for_split(run, "train"))
    torch.manual_seed(seed)
    model = build_model(run.model, train.input_spec.in_channels, weights="random").module
    optimizer = torch.optim.AdamW(model.parameters(), lr=run.learning_rate, weight_decay=run.weight_decay)
    return run, data, train, model, optimizer


def test_training_reads_the_loss_once_per_interval_not_per_step() -> None:
    run, _, train, model, optimizer = _setup()
    loss_fn = _CountingLoss(make_loss("ce"))
    _Reads.reads = 0
    torch.set_num_threads(1)
    mean, seen = train_epoch(model, train, run, optimizer, loss_fn, 0, CPU)
    steps = math.ceil(seen / run.batch_size)
    assert steps >= 5 and math.isfinite(mean)
    assert _Reads.reads == 1  # one read of every step's loss at the epoch's end (the old loop: one a step)


def test_device_sums_read_every_interval_and_sum_like_per_step_reads() -> None:
    sums = DeviceSums(every=3)
    losses = [torch.tensor(v, dtype=torch.float32) for v in (0.1, 0.7, 1 / 3, 2.5, 0.9)]
    reads = [sums.add(i + 1, loss, 4 + i) for i, loss in enumerate(losses)]
    assert [len(r) for r in reads] == [0, 0, 3, 0, 0]
    assert [step for step, _, _ in reads[2]] == [1, 2, 3]
    assert len(sums.read()) == 2 and sums.read() == []
    expected = 0.0
    for i, loss in enumerate(losses):
        expected += float(loss) * (4 + i)
    assert sums.total == expected and sums.count == sum(4 + i for i in range(5))


def _old_epoch(model, data, run, optimizer, loss_fn):  # type: ignore[no-untyped-def]
    """The loop as it was before issue 26 (per-step float(loss), int64 masks), for comparison."""
    loader = build_dataloader(data, run.batch_size, rank=0, world_size=1, drop_lone_last=True)
    loader.set_epoch(0)
    model.train()
    total, count = 0.0, 0
    for batch in loader:
        logits = model(batch["image"])
        target = batch["label"].long()
        loss = loss_fn(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(target)
        count += len(target)
    return total / count


def test_cpu_training_is_bit_for_bit_what_it_was() -> None:
    torch.set_num_threads(1)
    run, data, train, model, optimizer = _setup(seed=3)
    old_model = copy.deepcopy(model)
    old_optimizer = torch.optim.AdamW(
        old_model.parameters(), lr=run.learning_rate, weight_decay=run.weight_decay
    )
    old_optimizer.load_state_dict(optimizer.state_dict())
    loss_fn = make_loss("ce")
    new_mean, _ = train_epoch(model, train, run, optimizer, loss_fn, 0, CPU)
    old_mean = _old_epoch(old_model, train, run, old_optimizer, loss_fn)
    assert new_mean == old_mean
    for a, b in zip(model.state_dict().values(), old_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    val = data(LoaderConfig.for_split(run, "val"))
    out = evaluate(model, val, run, loss_fn, CPU)
    model.eval()
    with torch.no_grad():
        items = [val[i] for i in range(len(val))]
        expected = 0.0
        for k in range(0, len(items), run.batch_size):
            chunk = items[k : k + run.batch_size]
            logits = model(torch.stack([x["image"] for x in chunk]))
            expected += float(loss_fn(logits, torch.stack([x["label"] for x in chunk]))) * len(chunk)
    assert out["samples"] == len(val) and out["loss"] == pytest.approx(expected / len(val), rel=1e-6)


def test_nvml_absent_means_no_gpu_and_a_stand_in_is_sampled() -> None:
    assert isinstance(inventory(), dict)  # this machine: NVML absent or a real inventory, never an error
    never = GpuBusy(nvml=None)
    if not never.available:
        with never:
            pass
        assert never.mean is None and never.read() is None
    fake = SimpleNamespace(
        nvmlDeviceGetHandleByIndex=lambda i: f"gpu{i}",
        nvmlDeviceGetHandleByUUID=lambda u: u,
        nvmlDeviceGetUtilizationRates=lambda h: SimpleNamespace(gpu=80),
    )
    busy = GpuBusy(index=0, interval=0.005, nvml=fake)  # type: ignore[arg-type]
    assert busy.available
    with busy:
        import time

        time.sleep(0.05)
    assert busy.samples and busy.mean == 80.0
