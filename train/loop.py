"""The per-worker training function of a Ray Train `TorchTrainer` run.

Each worker reads its shard of the split, trains with DDP (gloo on CPU, NCCL on GPU, bf16 autocast
on CUDA), evaluates the validation loss every epoch and reports it with a checkpoint (model,
optimizer, best-so-far weights, epoch). After a failure Ray restarts the workers and they resume
from the latest checkpoint. At the end the best weights (lowest validation loss) meet the test split.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from hephaestus.train import sources as src
from hephaestus.train.config import RunConfig
from hephaestus.train.data.sampling import shard_indices
from hephaestus.train.losses import make_loss
from hephaestus.train.metrics import compute, deformation_metrics, deformation_probability
from hephaestus.train.models import build_model

MODEL_FILE = "model.pt"
BEST_FILE = "best.pt"
OPTIMIZER_FILE = "optimizer.pt"
STATE_FILE = "state.json"
RUN_FILE = "run_config.json"
INPUT_FILE = "input.json"


def _collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "image": torch.stack([b["image"] for b in batch]),
        "mask": torch.stack([torch.as_tensor(b["mask"]) for b in batch]),
        "label": torch.stack([torch.as_tensor(b["label"]) for b in batch]),
        "id": [str(b["id"]) for b in batch],
    }


def _world() -> tuple[int, int]:
    import ray.train

    ctx = ray.train.get_context()
    return ctx.get_world_rank(), ctx.get_world_size()


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
    key = "label" if task == "classification" else "mask"
    return batch[key].to(device, non_blocking=True).long()


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def _batches(loader: DataLoader, limit: int | None) -> Iterator[dict[str, Any]]:
    for i, batch in enumerate(loader):
        if limit is not None and i >= limit:
            return
        yield batch


def _forward(
    net: nn.Module, batch: dict[str, Any], run: RunConfig, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and target of a batch on `device`, under autocast where the run asks for it."""
    image = batch["image"].to(device, non_blocking=True)
    with _autocast(device, run.amp):
        logits = net(image)
    return logits, _target(batch, run.task, device)


def epoch_order(dataset: Dataset, epoch: int, seed: int) -> np.ndarray:
    """The epoch's sample order: the dataset's own (undersampled) indices when it has them, shuffled."""
    own = getattr(dataset, "epoch_indices", None)
    indices = np.asarray(own(epoch)) if callable(own) else np.arange(len(dataset))  # type: ignore[arg-type]
    return np.random.default_rng([seed, epoch, 0x7A1]).permutation(indices)


def train_epoch(
    model: nn.Module,
    dataset: Dataset,
    run: RunConfig,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    epoch: int,
    device: torch.device,
) -> tuple[float, int]:
    """One epoch over this worker's shard; returns (mean loss over all workers, samples seen here)."""
    rank, world = _world()
    indices, _ = shard_indices(epoch_order(dataset, epoch, run.seed), rank, world, "pad")
    # BatchNorm refuses a last batch of one sample; every rank has the same shard length.
    drop_last = len(indices) % run.batch_size == 1
    loader = DataLoader(
        Subset(dataset, indices.tolist()),
        batch_size=run.batch_size,
        collate_fn=_collate,
        num_workers=run.loader_workers,
        drop_last=drop_last,
        pin_memory=device.type == "cuda",
    )
    model.train()
    total, count = 0.0, 0
    for batch in _batches(loader, run.max_train_batches):
        logits, target = _forward(model, batch, run, device)
        loss = loss_fn(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(target)
        count += len(target)
    loss_sum, n = _all_reduce_sum([total, float(count)], device)
    return (loss_sum / n if n else math.nan), count


@torch.no_grad()
def evaluate(
    model: nn.Module, dataset: Dataset, run: RunConfig, loss_fn: nn.Module, device: torch.device
) -> dict[str, float]:
    """Loss and deformation-class metrics over the whole split, sharded without padding across workers."""
    rank, world = _world()
    indices, padding = shard_indices(np.arange(len(dataset)), rank, world, "pad")
    shard = Subset(dataset, indices[~padding].tolist())  # metrics see every sample exactly once
    loader = DataLoader(shard, batch_size=run.batch_size, collate_fn=_collate, num_workers=run.loader_workers)
    metrics = deformation_metrics(run.task).to(device)
    net = _unwrap(model)
    net.eval()
    total, count = 0.0, 0
    for batch in _batches(loader, run.max_eval_batches):
        logits, target = _forward(net, batch, run, device)
        total += float(loss_fn(logits, target)) * len(target)
        count += len(target)
        metrics.update(deformation_probability(logits), target)
    loss_sum, n = _all_reduce_sum([total, float(count)], device)
    out = compute(metrics)
    out["loss"] = loss_sum / n if n else math.nan
    out["samples"] = n
    return out


def _save(path: Path, obj: Any) -> None:
    torch.save(obj, path)


def _load(path: Path) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in _unwrap(model).state_dict().items()}


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point. `config`: {"run": RunConfig dump, "source": DatasetFactory}."""
    import ray.train
    import ray.train.torch
    from ray.train import Checkpoint

    run = RunConfig(**config["run"])
    source: src.DatasetFactory = config["source"]
    rank, world = _world()
    torch.manual_seed(run.seed)
    device = ray.train.torch.get_device()

    train_ds = source(src.DataRequest.for_run(run, "train"))
    val_ds = source(src.DataRequest.for_run(run, "val"))
    channels = src.in_channels(train_ds)
    built = build_model(
        run.model, channels, weights=run.weights, weights_dir=run.weights_dir, encoder=run.encoder
    )
    model = ray.train.torch.prepare_model(built.module)
    optimizer = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    loss_fn = make_loss(run.loss_name, run.focal_deformation_weight, run.focal_gamma)

    state: dict[str, Any] = {"epoch": -1, "best_val_loss": math.inf, "best_epoch": -1, "done": False}
    best_weights = _cpu_state(model)
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            folder = Path(folder)
            state = json.loads((folder / STATE_FILE).read_text())
            _unwrap(model).load_state_dict(_load(folder / MODEL_FILE))
            best_weights = _load(folder / BEST_FILE)
            if (folder / OPTIMIZER_FILE).exists():
                optimizer.load_state_dict(_load(folder / OPTIMIZER_FILE))
    start_epoch = int(state["epoch"]) + 1
    if rank == 0:
        print(
            f"[{run.run_id}] worker 0/{world}: start at epoch {start_epoch} of {run.epochs} ({built.weights})"
        )

    def report(metrics: dict[str, Any], files: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory(prefix="hmc-ckpt-") as tmp:
            if rank == 0:
                folder = Path(tmp)
                for name, obj in files.items():
                    if name.endswith(".json"):
                        (folder / name).write_text(json.dumps(obj))
                    else:
                        _save(folder / name, obj)
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp))
            else:
                ray.train.report(metrics)

    common = {
        RUN_FILE: run.model_dump(mode="json"),
        INPUT_FILE: {
            "in_channels": channels,
            "task": run.task,
            "weights": built.weights,
            "statistics": src.statistics(train_ds),
        },
    }
    for epoch in range(start_epoch, run.epochs):
        started = time.perf_counter()
        src.set_epoch(train_ds, epoch)
        train_loss, seen = train_epoch(model, train_ds, run, optimizer, loss_fn, epoch, device)
        val = evaluate(model, val_ds, run, loss_fn, device)
        if val["loss"] < state["best_val_loss"] or state["best_epoch"] < 0:
            state.update(best_val_loss=val["loss"], best_epoch=epoch)
            best_weights = _cpu_state(model)
        state["epoch"] = epoch
        seconds = time.perf_counter() - started
        metrics = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val["loss"],
            **{f"val_{k}": v for k, v in val.items() if k != "loss"},
            "best_epoch": state["best_epoch"],
            "start_epoch": start_epoch,
            "epoch_seconds": seconds,
            "train_samples_per_s": seen * world / seconds if seconds > 0 else 0.0,
            "done": False,
        }
        if rank == 0:
            print(
                f"[{run.run_id}] epoch {epoch + 1}/{run.epochs} train_loss {train_loss:.4f} "
                f"val_loss {val['loss']:.4f} val_f1 {val['f1']:.3f} ({seconds:.1f} s)"
            )
        report(
            metrics,
            {
                MODEL_FILE: _cpu_state(model),
                BEST_FILE: best_weights,
                OPTIMIZER_FILE: optimizer.state_dict(),
                STATE_FILE: state,
                **common,
            },
        )

    # Test evaluation with the weights of the lowest validation loss.
    _unwrap(model).load_state_dict(best_weights)
    test_ds = source(src.DataRequest.for_run(run, "test"))
    test = evaluate(model, test_ds, run, loss_fn, device)
    state["done"] = True
    final = {
        "epoch": state["epoch"],
        "val_loss": state["best_val_loss"],
        "best_epoch": state["best_epoch"],
        "start_epoch": start_epoch,
        "done": True,
        **{f"test_{k}": v for k, v in test.items()},
    }
    if rank == 0:
        print(f"[{run.run_id}] test " + " ".join(f"{k} {v:.3f}" for k, v in test.items()))
    # The final checkpoint holds the best weights only: it is what `hmc predict` loads.
    report(final, {MODEL_FILE: best_weights, BEST_FILE: best_weights, STATE_FILE: state, **common})
