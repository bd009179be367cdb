"""The per-worker training function of a Ray Train `TorchTrainer` run.

Each worker reads its shard of the split, trains with DDP (gloo on CPU, NCCL on GPU, bf16 autocast
on CUDA), evaluates the validation loss every epoch and reports it with a checkpoint (model,
optimizer, best-so-far weights, epoch). After a failure Ray restarts the workers and they resume
from the latest checkpoint. At the end the kept weights meet the test split: the epoch of the lowest
validation loss, or for a monitoring classifier the best whole-frame validation AUROC (`RunConfig.selection`).

GPU readiness (docs/performance.md, "GPU readiness"): the host never waits for the device within a
step. Losses stay on the device and are read once every `READ_EVERY` steps and at the end of an epoch
(`DeviceSums`); batches (pinned by the loader) are copied on a side CUDA stream (`DeviceBatches`);
masks arrive as uint8 and are widened on the device; channels-last and cuDNN's autotuner are run
settings (`RunConfig.channels_last`, `cudnn_benchmark`). On CPU every number is what it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import nn
from torch.utils.data import DataLoader

from hephaestus.platform.errors import DivergenceError, HephaestusError
from hephaestus.platform.inputs import InputSpec
from hephaestus.platform.layout import CheckpointFiles
from hephaestus.train import history, tracking
from hephaestus.train.config import RunConfig
from hephaestus.train.data.augment import AUGMENT_KEY
from hephaestus.train.data.batch_augment import augment_on_device
from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.data.loader import EpochLoader, LoaderPlan, build_dataloader, plan_loader
from hephaestus.train.frame_score import FrameValidation
from hephaestus.train.gpu_usage import GpuBusy
from hephaestus.train.losses import make_loss
from hephaestus.train.metrics import compute, deformation_metrics, deformation_probability
from hephaestus.train.models import build_model
from hephaestus.train.predict import LoadedModel
from hephaestus.train.preflight import check_shared_memory
from hephaestus.train.sources import DataSource, TrainingData, open_split
from hephaestus.train.weights import DIGESTS_KEY, file_digest, require_finite


def _world() -> tuple[int, int]:
    """(rank, world size) inside a Ray Train worker; (0, 1) when the loop's functions run in-process."""
    import ray.train

    try:
        ctx = ray.train.get_context()
        return ctx.get_world_rank(), ctx.get_world_size()
    except Exception:  # no Ray Train session: a single in-process worker (tests, notebooks)
        return 0, 1


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if _distributed():
        torch.distributed.all_reduce(tensor)
    return tensor.tolist()


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _target(batch: dict[str, Any], task: str, device: torch.device) -> torch.Tensor:
    """Class indices on `device`: labels, or masks widened there from the uint8 they travel in."""
    key = "label" if task == "classification" else "mask"
    return batch[key].to(device, non_blocking=True).long()


HOST_KEYS = frozenset({AUGMENT_KEY, "padding"})
"""Batch entries that stay on the host: the augmentation parameters and padding flags are read there
(reading them from the device would sync the two)."""

READ_EVERY = 100
"""Training steps between reads of the device's loss values (one host-device sync each): how late a
diverged run is stopped, at most."""


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The batch with its tensors (but `HOST_KEYS`) on `device`, copied without blocking the host (the
    loader pins them on CUDA); on CPU the very same tensors."""
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) and k not in HOST_KEYS else v
        for k, v in batch.items()
    }


class DeviceBatches:
    """The batches of `batches` on `device`. On CUDA each copy is issued on a side stream, so it runs
    beside the compute stream's work of the steps before (the host is ahead of the device: nothing in a
    step waits for it); the compute stream waits for the copy before using the batch, and the batch's
    memory is recorded on the compute stream so the allocator does not hand it out while kernels still
    read it. On CPU: plain iteration."""

    def __init__(self, batches: Iterable[dict[str, Any]], device: torch.device) -> None:
        self.batches, self.device = batches, device

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self.device.type != "cuda":
            for batch in self.batches:
                yield to_device(batch, self.device)
            return
        stream = torch.cuda.Stream(device=self.device)
        compute = torch.cuda.current_stream(self.device)
        for host in self.batches:
            with torch.cuda.stream(stream):
                batch = to_device(host, self.device)
            compute.wait_stream(stream)
            for value in batch.values():
                if isinstance(value, torch.Tensor) and value.is_cuda:
                    value.record_stream(compute)
            yield batch


class DeviceSums:
    """Per-step losses kept on the device and read in one transfer per `every` steps (`read`), so no
    step waits for the device. The values read are the same float32 losses `float(loss)` gave, summed
    times their sample counts in step order in float64 on the host: the sums are bit for bit the ones a
    per-step read gives."""

    def __init__(self, every: int | None = None) -> None:
        self.every = every
        self.pending: list[tuple[int, torch.Tensor, int]] = []
        self.total, self.count = 0.0, 0

    def add(self, step: int, loss: torch.Tensor, samples: int) -> list[tuple[int, float, int]]:
        """Keep a step's mean loss (a 0-d tensor, not read); returns `read()` every `every` steps, else []."""
        self.pending.append((step, loss.detach(), samples))
        return self.read() if self.every and len(self.pending) >= self.every else []

    def read(self) -> list[tuple[int, float, int]]:
        """(step, loss, samples) of every step kept since the last read, added to `total` and `count`."""
        if not self.pending:
            return []
        values = torch.stack([loss for _, loss, _ in self.pending]).to(torch.float64).cpu().tolist()
        out = [(step, value, n) for (step, _, n), value in zip(self.pending, values, strict=True)]
        self.pending = []
        for _, value, n in out:
            self.total += value * n
            self.count += n
        return out


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def _batches(loader: DataLoader, limit: int | None) -> Iterator[dict[str, Any]]:
    try:
        for i, batch in enumerate(loader):
            if limit is not None and i >= limit:
                return
            yield batch
    except HephaestusError as exc:
        raise _from_loader_worker(exc) from None


def _from_loader_worker(exc: HephaestusError) -> HephaestusError:
    """A platform error raised in a DataLoader worker process, with its own message again: torch re-raises
    it in the training process with "Caught ... Original Traceback ..." prepended (the traceback is in
    the worker's log); its last line is the original `Type: message`."""
    text = str(exc)
    if not text.startswith("Caught "):
        return exc
    last = text.rstrip().splitlines()[-1]
    prefix = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    message = last[len(prefix) :] if last.startswith(prefix) else last.split(": ", 1)[-1]
    try:
        return type(exc)(message)
    except TypeError:
        return exc


def _forward(
    net: nn.Module, batch: dict[str, Any], run: RunConfig, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and target of a batch on `device`, under autocast where the run asks for it."""
    image = batch["image"].to(device, non_blocking=True)
    if run.channels_last:
        image = image.contiguous(memory_format=torch.channels_last)
    with _autocast(device, run.amp):
        logits = net(image)
    return logits, _target(batch, run.task, device)


def _local_ranks() -> int:
    """Training processes of this job on this node (Ray Train's local world size; 1 outside it)."""
    import ray.train

    try:
        return int(ray.train.get_context().get_local_world_size())
    except Exception:  # no Ray Train session
        return 1


def run_plan(run: RunConfig, device: torch.device) -> LoaderPlan:
    """The run's loading plan on this node (`plan_loader` with the run's `loader_workers`)."""
    return plan_loader(
        run.loader_workers, device_type=device.type, local_ranks=_local_ranks(), prefetch=run.prefetch_factor
    )


def make_loader(
    dataset: TrainingData,
    run: RunConfig,
    device: torch.device,
    *,
    training: bool,
    plan: LoaderPlan | None = None,
) -> EpochLoader:
    """This worker's loader over `dataset`, built once per split and run (workers persist across
    epochs); `set_epoch` moves it on. Training drops a lone last sample (BatchNorm refuses it).
    Refused before its workers start when their prefetched batches cannot fit in shared memory."""
    rank, world = _world()
    plan = plan or run_plan(run, device)
    check_shared_memory(run, plan.num_workers, plan.prefetch_factor)
    return build_dataloader(
        dataset,
        run.batch_size,
        rank=rank,
        world_size=world,
        plan=plan,
        drop_lone_last=training,
    )


def _epoch_loader(
    data: TrainingData | EpochLoader, run: RunConfig, device: torch.device, epoch: int, training: bool
) -> EpochLoader:
    loader = data if isinstance(data, EpochLoader) else make_loader(data, run, device, training=training)
    loader.set_epoch(epoch)
    return loader


def train_step(
    model: nn.Module,
    batch: dict[str, Any],
    run: RunConfig,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    device: torch.device,
) -> tuple[torch.Tensor, int]:
    """One optimiser step on a batch; returns (mean loss, samples), the loss a 0-d tensor on the device
    that is not read here (reading it would make the host wait for the step). The one step of training
    (and of `tests/benchmarks/bench_train.py`, which feeds it loader batches and in-memory tensors)."""
    batch = augment_on_device(batch, device)  # the batch's augmentation, where `augment_on` is "device"
    logits, target = _forward(model, batch, run, device)
    loss = loss_fn(logits, target)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), len(target)


def train_epoch(
    model: nn.Module,
    data: TrainingData | EpochLoader,
    run: RunConfig,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    epoch: int,
    device: torch.device,
) -> tuple[float, int]:
    """One epoch over this worker's shard; returns (mean loss over all workers, samples seen here).

    `data`: the split's dataset, or its loader from `make_loader` (kept across epochs, so loader
    workers persist). The shard comes from the loader package's builder: the dataset's own epoch
    order (undersampled and shuffled once, by the dataset), every world_size-th index per rank,
    padded to equal counts.
    """
    loader = _epoch_loader(data, run, device, epoch, training=True)
    model.train()
    sums = DeviceSums(every=READ_EVERY)
    batches = DeviceBatches(_batches(loader, run.max_train_batches), device)
    for step, batch in enumerate(batches, start=1):
        loss, n = train_step(model, batch, run, optimizer, loss_fn, device)
        _check_finite(sums.add(step, loss, n), run, epoch)
    _check_finite(sums.read(), run, epoch)
    loss_sum, n = _all_reduce_sum([sums.total, float(sums.count)], device)
    return (loss_sum / n if n else math.nan), sums.count


def _check_finite(read: list[tuple[int, float, int]], run: RunConfig, epoch: int) -> None:
    """Stop at the first step of `read` whose loss is not finite (its weights are lost: no checkpoint)."""
    for step, loss, _ in read:
        if not math.isfinite(loss):
            raise DivergenceError(
                f"run {run.run_id}: training diverged: loss {loss} at epoch {epoch + 1}, "
                f"step {step}; no checkpoint of it is written (lower lr, check the inputs)"
            )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: TrainingData | EpochLoader,
    run: RunConfig,
    loss_fn: nn.Module,
    device: torch.device,
) -> dict[str, float]:
    """Loss and deformation-class metrics over the whole split, sharded across workers.

    `data`: the split's dataset or its loader (`make_loader`). The padding repeats that even out
    the shards are dropped: metrics see every sample exactly once.
    """
    loader = _epoch_loader(data, run, device, 0, training=False)
    metrics = deformation_metrics(run.task).to(device)
    net = _unwrap(model)
    net.eval()
    sums = DeviceSums()
    for step, batch in enumerate(DeviceBatches(_batches(loader, run.max_eval_batches), device)):
        keep = ~batch["padding"]  # on the host: which rows to keep is known without asking the device
        kept = int(keep.sum())
        if not kept:
            continue
        logits, target = _forward(net, batch, run, device)
        if kept < len(keep):
            rows = keep.nonzero().squeeze(1).to(device, non_blocking=True)
            logits, target = logits[rows], target[rows]
        sums.add(step, loss_fn(logits, target), kept)
        metrics.update(deformation_probability(logits), target)
    sums.read()
    loss_sum, n = _all_reduce_sum([sums.total, float(sums.count)], device)
    # an empty split (a tiny store with no val or test pair) has no metric to compute: NaN, not an error
    out = compute(metrics) if n else {name: math.nan for name in metrics.keys()}
    out["loss"] = loss_sum / n if n else math.nan
    out["samples"] = n
    return out


def _save(path: Path, obj: Any) -> None:
    torch.save(obj, path)


def _load(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in _unwrap(model).state_dict().items()}


class _Reporter:
    """Reports metrics to Ray Train each epoch; rank 0 attaches the checkpoint folder.

    Rank 0 also appends the metrics to the run's history file (when the trainer names one), which the
    CLI's live table and the training-curve figure read, and logs them to MLflow (when tracked).
    """

    def __init__(
        self, rank: int, history_url: str | None = None, mlflow: ModuleType | None = None, run_id: str = ""
    ) -> None:
        self.rank = rank
        self.history_url = history_url
        self.mlflow = mlflow
        self.run_id = run_id

    def __call__(self, metrics: dict[str, Any], files: dict[str, Any]) -> None:
        import ray.train
        from ray.train import Checkpoint

        for name in WEIGHT_FILES:  # every rank holds the same weights: all refuse together
            if name in files:
                require_finite(files[name], f"run {self.run_id}: epoch {int(metrics['epoch']) + 1} {name}")
        if self.rank == 0 and self.history_url:
            history.append(self.history_url, metrics)
        tracking.log_epoch(self.mlflow, metrics)

        with tempfile.TemporaryDirectory(prefix="hmc-ckpt-") as tmp:
            if self.rank == 0:
                write_checkpoint(Path(tmp), files)
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp))
            else:
                ray.train.report(metrics)


WEIGHT_FILES = (CheckpointFiles.MODEL, CheckpointFiles.BEST)
"""The model weights of a checkpoint: checked finite before saving, their digests recorded."""


def write_checkpoint(folder: Path, files: dict[str, Any]) -> None:
    """Write a checkpoint's files into `folder`: tensors first, then the JSON records, the input record
    with the SHA-256 of each weights file added (`weights.DIGESTS_KEY`), which `hmc predict` verifies."""
    for name, obj in files.items():
        if not name.endswith(".json"):
            _save(folder / name, obj)
    digests = {name: file_digest(folder / name) for name in WEIGHT_FILES if name in files}
    for name, obj in files.items():
        if name.endswith(".json"):
            if name == CheckpointFiles.INPUT:
                obj = {**obj, DIGESTS_KEY: digests}
            (folder / name).write_text(json.dumps(obj))


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict]:
    """(state, best weights) from Ray Train's latest checkpoint, loaded into model and optimizer."""
    import ray.train

    state: dict[str, Any] = {
        "epoch": -1, "best_val_loss": math.inf, "best_score": -math.inf, "best_epoch": -1, "done": False
    }  # fmt: skip
    best_weights = _cpu_state(model)
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            folder = Path(folder)
            state = json.loads((folder / CheckpointFiles.STATE).read_text())
            state.setdefault("best_score", -state["best_val_loss"])  # written before the epoch choice was
            _unwrap(model).load_state_dict(_load(folder / CheckpointFiles.MODEL))
            best_weights = _load(folder / CheckpointFiles.BEST)
            if (folder / CheckpointFiles.OPTIMIZER).exists():
                optimizer.load_state_dict(_load(folder / CheckpointFiles.OPTIMIZER))
    return state, best_weights


TRAINED_UNTIL_KEY = "trained_until"
"""Key in a checkpoint's `input.json`: the latest secondary date (YYYY-MM-DD) of the train and validation
pairs the run used; the monitor alerts only on pairs acquired after it by default (monitor/baseline.py)."""


def input_record(
    run: RunConfig, spec: InputSpec, weights: str, trained_until: dt.date | None = None
) -> dict[str, Any]:
    """The checkpoint's `input.json`: the input specification `hmc predict` rebuilds the input from, and
    (when the data says) the last acquisition the run trained or validated on."""
    record: dict[str, Any] = {
        "in_channels": spec.in_channels,
        "task": run.task,
        "weights": weights,
        "input_spec": spec.model_dump(mode="json"),
    }
    if trained_until is not None:
        record[TRAINED_UNTIL_KEY] = trained_until.isoformat()
    return record


def latest_secondary_date(*datasets: object) -> dt.date | None:
    """The latest secondary date of the pairs behind `datasets` (their `rows`: the catalog's pair rows, or
    series rows with `secondary_dates`); None when no dataset says (a source without catalog rows)."""
    latest: dt.date | None = None
    for ds in datasets:
        rows = getattr(ds, "rows", None)
        if not isinstance(rows, pa.Table) or rows.num_rows == 0:
            continue
        if "secondary_date" in rows.column_names:
            column = rows.column("secondary_date")
        elif "secondary_dates" in rows.column_names:
            column = pc.list_flatten(rows.column("secondary_dates"))
        else:
            continue
        value = pc.max(column).as_py()
        if value is not None and (latest is None or value > latest):
            latest = value
    return latest


def _epoch_metrics(
    epoch: int,
    train_loss: float,
    val: dict[str, float],
    state: dict[str, Any],
    start: int,
    seconds: float,
    rate: float,
) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "val_loss": val["loss"],
        **{f"val_{k}": v for k, v in val.items() if k != "loss"},
        "best_epoch": state["best_epoch"],
        "start_epoch": start,
        "epoch_seconds": seconds,
        "train_samples_per_s": rate,
        "done": False,
    }


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point. `config`: {"run": RunConfig dump, "source": DataSource, "history": URL,
    "mlflow_uri" / "mlflow_experiment": where rank 0 tracks the run (train/tracking.py; None: not)}."""
    import ray.train.torch

    run = RunConfig(**config["run"])
    source: DataSource = config["source"]
    rank, world = _world()
    torch.manual_seed(run.seed)
    device = ray.train.torch.get_device()
    plan = run_plan(run, device)
    torch.set_num_threads(plan.torch_threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = run.cudnn_benchmark

    train_ds = open_split(source, LoaderConfig.for_split(run, "train"))
    val_ds = open_split(source, LoaderConfig.for_split(run, "val"))
    train_loader = make_loader(train_ds, run, device, training=True, plan=plan)
    val_loader = make_loader(val_ds, run, device, training=False, plan=plan)
    spec = train_ds.input_spec
    built = build_model(
        run.model, spec.in_channels, weights=run.weights, weights_dir=run.weights_dir, encoder=run.encoder
    )
    module = built.module.to(memory_format=torch.channels_last) if run.channels_last else built.module
    model = ray.train.torch.prepare_model(module)
    optimizer = torch.optim.AdamW(model.parameters(), lr=run.learning_rate, weight_decay=run.weight_decay)
    loss_fn = make_loss(run.loss_name, run.focal_deformation_weight, run.focal_gamma)
    state, best_weights = _restore(model, optimizer)
    start_epoch = int(state["epoch"]) + 1
    frame_val = _frame_validation(run, source, rank)
    if rank == 0:
        print(
            f"[{run.run_id}] worker 0/{world}: start at epoch {start_epoch} of {run.epochs} ({built.weights}); "
            f"{plan.describe()}"
        )
    mlflow = tracking.start(run, config.get("mlflow_uri"), config.get("mlflow_experiment"))
    report = _Reporter(rank, config.get("history"), mlflow, run.run_id)
    common = {
        CheckpointFiles.RUN: run.model_dump(mode="json"),
        CheckpointFiles.INPUT: input_record(
            run, spec, built.weights, latest_secondary_date(train_ds, val_ds)
        ),
    }
    gpu = GpuBusy(device.index or 0) if device.type == "cuda" else None  # NVML, sampled in a thread
    for epoch in range(start_epoch, run.epochs):
        started = time.perf_counter()
        with gpu if gpu is not None else contextlib.nullcontext():
            train_loss, seen = train_epoch(model, train_loader, run, optimizer, loss_fn, epoch, device)
        val = evaluate(model, val_loader, run, loss_fn, device)
        if val["samples"] and not math.isfinite(val["loss"]):
            # weights driven to huge but finite values give a finite last training loss and NaN after it
            steps = math.ceil(seen / max(run.batch_size, 1))
            raise DivergenceError(
                f"run {run.run_id}: training diverged: validation loss {val['loss']} at epoch {epoch + 1}, "
                f"step {steps} (the epoch's last); no checkpoint of it is written (lower lr, check the inputs)"
            )
        scored = frame_val is not None and ((epoch + 1) % run.frame_val_every == 0 or epoch == run.epochs - 1)
        if scored:
            module = LoadedModel(_unwrap(model).eval(), run, spec)
            val["frame_auroc"] = frame_val.auroc(module, FRAME_VAL_BATCH)
        score = val.get("frame_auroc", math.nan) if frame_val is not None else -val["loss"]
        # NaN never wins; the first epoch that can be kept is kept whatever its score
        if score > state["best_score"] or (state["best_epoch"] < 0 and (scored or frame_val is None)):
            state.update(best_val_loss=val["loss"], best_score=score, best_epoch=epoch)
            best_weights = _cpu_state(model)
        state["epoch"] = epoch
        seconds = time.perf_counter() - started
        rate = seen * world / seconds if seconds > 0 else 0.0
        if rank == 0:
            print(
                f"[{run.run_id}] epoch {epoch + 1}/{run.epochs} train_loss {train_loss:.4f} "
                f"val_loss {val['loss']:.4f} val_f1 {val['f1']:.3f}"
                + (f" val_frame_auroc {val['frame_auroc']:.3f}" if "frame_auroc" in val else "")
                + f" ({seconds:.1f} s"
                + (
                    f", GPU {gpu.mean:.0f}% busy training)"
                    if gpu is not None and gpu.mean is not None
                    else ")"
                )
            )
        files = {
            CheckpointFiles.MODEL: _cpu_state(model),
            CheckpointFiles.BEST: best_weights,
            CheckpointFiles.OPTIMIZER: optimizer.state_dict(),
        }
        report(
            _epoch_metrics(epoch, train_loss, val, state, start_epoch, seconds, rate),
            {**files, CheckpointFiles.STATE: state, **common},
        )
    _test_and_finish(model, best_weights, source, run, loss_fn, device, state, start_epoch, report, common)
    tracking.finish(mlflow)


FRAME_VAL_BATCH = 64
"""Windows per forward pass when scoring validation frames (inference only: larger batches run faster)."""


def _frame_validation(run: RunConfig, source: DataSource, rank: int) -> FrameValidation | None:
    """The validation pairs a `val_frame_auroc` run chooses its epoch on (`frame_score.FrameValidation`);
    None for a run choosing by validation loss, or (said on rank 0) when no AUROC can be measured."""
    if run.selection != "val_frame_auroc":
        return None
    found = FrameValidation.load(source.store_url, run.split_scheme, run.frame_val_pairs)
    if found is None and rank == 0:
        print(f"[{run.run_id}] no validation pairs with and without deformation: epoch chosen by val loss")
    return found


def _test_and_finish(
    model: nn.Module,
    best_weights: dict,
    source: DataSource,
    run: RunConfig,
    loss_fn: nn.Module,
    device: torch.device,
    state: dict[str, Any],
    start_epoch: int,
    report: _Reporter,
    common: dict[str, Any],
) -> None:
    """Test evaluation with the chosen epoch's weights (`RunConfig.selection`); the final checkpoint holds them only."""
    _unwrap(model).load_state_dict(best_weights)
    test = evaluate(model, open_split(source, LoaderConfig.for_split(run, "test")), run, loss_fn, device)
    state["done"] = True
    final = {
        "epoch": state["epoch"],
        "val_loss": state["best_val_loss"],
        "best_epoch": state["best_epoch"],
        "start_epoch": start_epoch,
        "done": True,
        **{f"test_{k}": v for k, v in test.items()},
    }
    if report.rank == 0:
        print(f"[{run.run_id}] test " + " ".join(f"{k} {v:.3f}" for k, v in test.items()))
    # The final checkpoint holds the best weights only: it is what `hmc predict` loads.
    report(
        final,
        {
            CheckpointFiles.MODEL: best_weights,
            CheckpointFiles.BEST: best_weights,
            CheckpointFiles.STATE: state,
            **common,
        },
    )
